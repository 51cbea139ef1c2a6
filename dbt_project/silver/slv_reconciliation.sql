-- Nothing is lost, batch by batch: every row a lake batch landed (tombstones
-- aside) is, today, the current version of its key in silver or in
-- quarantine, or was superseded by a newer version, or its key was deleted
-- since. A row is the current version when its batch and `modified_at` are
-- those of the key's row in `*_checked` (events never change: the batch).
-- `unaccounted_rows` counts the rows in none of these (a key missing
-- from the `*_checked` model); its test requires 0.
{{ config(materialized='table') }}

with

{% for table in source_tables() %}
    {%- set version = 'batch_id' if table.append_only else 'modified_at' %}
    {{ table.name }}_outcomes as (

        select
            '{{ table.table }}' as source_table,
            landed.batch_id,
            case
                when {{ flag_is_true('landed.is_deleted') }} then 'tombstone'
                when current_rows.{{ table.key }} is null then 'unaccounted'
                when {{ flag_is_true('current_rows.is_deleted') }} then 'deleted'
                when current_rows.batch_id <> landed.batch_id
                    or current_rows.{{ version }} <> landed.{{ version }} then 'superseded'
                when current_rows.quarantine_reason is null then 'silver'
                else 'quarantine'
            end as outcome
        from {{ ref('brz_' ~ table.name) }} as landed
        left join {{ ref('slv_' ~ table.name ~ '_checked') }} as current_rows
            on landed.{{ table.key }} = current_rows.{{ table.key }}

    ),

{% endfor %}
outcomes as (

    {% for table in source_tables() %}
        select * from {{ table.name }}_outcomes
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

reconciliation as (

    select
        source_table,
        batch_id,
        sum(case when outcome = 'tombstone' then 0 else 1 end) as landed_rows,
        sum(case when outcome = 'silver' then 1 else 0 end) as silver_rows,
        sum(case when outcome = 'quarantine' then 1 else 0 end) as quarantined_rows,
        sum(case when outcome = 'superseded' then 1 else 0 end) as superseded_rows,
        sum(case when outcome = 'deleted' then 1 else 0 end) as deleted_rows,
        sum(case when outcome = 'unaccounted' then 1 else 0 end) as unaccounted_rows,
        sum(case when outcome = 'tombstone' then 1 else 0 end) as tombstones
    from outcomes
    group by source_table, batch_id

)

select * from reconciliation
