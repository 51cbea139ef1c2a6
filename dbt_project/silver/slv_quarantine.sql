-- Every current version that failed a check, from every `*_checked` model
-- (the tables of the `source_tables` project variable), with its reason.
with

quarantined as (

    {% for table in source_tables() %}
        select
            '{{ table.table }}' as source_table,
            {{ table.key }} as source_key,
            quarantine_reason,
            batch_id
        from {{ ref('slv_' ~ table.name ~ '_checked') }}
        where not {{ flag_is_true('is_deleted') }} and quarantine_reason is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from quarantined
