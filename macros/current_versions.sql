{#- The current version of every key of a bronze model, tombstones
    (`is_deleted`) included, with `columns`, `is_deleted`, `batch_id` and
    `previous_reason`, for a `*_checked` silver model to check again.

    Full build: the latest version in every landed batch (`previous_reason`
    null). Incremental run: the latest version in the batches this model has
    not seen yet, and this model's own row for every other key, with the
    quarantine reason it had. Every key is checked again on every run, so a
    rule that depends on other rows or other tables (a parent that arrived,
    was deleted or went to quarantine) gives the same answer as a full
    rebuild; `changed_versions_only` then keeps the rows to write. -#}
{% macro current_versions(relation, key, columns, order_by='batch_id desc, modified_at desc') -%}
    select
        {%- for column in columns %}
        newest.{{ column }},
        {%- endfor %}
        newest.is_deleted,
        newest.batch_id,
        cast(null as {{ dbt.type_string() }}) as previous_reason
    from (
        select
            versions.*,
            row_number() over (
                partition by versions.{{ key }}
                order by {{ order_by }}
            ) as version_rank
        from {{ relation }} as versions
        {%- if is_incremental() %}
        where versions.batch_id > ({{ last_seen_batch() }})
        {%- endif %}
    ) as newest
    where newest.version_rank = 1
    {%- if is_incremental() %}

    union all

    select
        {%- for column in columns %}
        previous.{{ column }},
        {%- endfor %}
        previous.is_deleted,
        previous.batch_id,
        previous.quarantine_reason as previous_reason
    from {{ this }} as previous
    where not exists (
        select 1
        from {{ relation }} as newer
        where newer.batch_id > ({{ last_seen_batch() }})
            and newer.{{ key }} = previous.{{ key }}
    )
    {%- endif %}
{%- endmacro %}


{#- The newest bronze batch an incremental silver model has already taken in. -#}
{% macro last_seen_batch() -%}
    select coalesce(max(seen.batch_id), 0) from {{ this }} as seen
{%- endmacro %}


{#- The filter that ends a `*_checked` model: on an incremental run, only the
    new versions and the rows whose quarantine reason changed are written
    (merged on the model's unique key). Renders nothing on a full build. -#}
{% macro changed_versions_only(relation_alias) -%}
    {%- if is_incremental() %}
    where {{ relation_alias }}.batch_id > ({{ last_seen_batch() }})
        or coalesce({{ relation_alias }}.quarantine_reason, '') <> coalesce({{ relation_alias }}.previous_reason, '')
    {%- endif %}
{%- endmacro %}
