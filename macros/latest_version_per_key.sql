{#- The newest landed version of every key of a bronze model: the row of the
    latest batch, and within a batch the latest `modified_at`. Tombstones
    (`is_deleted`) are versions too: filter them out to apply hard deletes. -#}
{% macro latest_version_per_key(relation, key, order_by='batch_id desc, modified_at desc') -%}
    select ranked.*
    from (
        select
            versions.*,
            row_number() over (
                partition by versions.{{ key }}
                order by {{ order_by }}
            ) as version_rank
        from {{ relation }} as versions
    ) as ranked
    where ranked.version_rank = 1
{%- endmacro %}
