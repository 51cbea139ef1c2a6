-- Nothing is lost, batch by batch: every row a lake batch landed (tombstones
-- aside) is, today, the current version of its key in silver or in
-- quarantine, or was superseded by a newer version, or its key was deleted
-- since. A row is the current version when its batch and `modified_at` are
-- those of the key's row in `*_checked` (events never change: the batch).
-- `unaccounted_rows` counts the rows in none of these (a key missing
-- from the `*_checked` model); its test requires 0.
{{ config(materialized='table') }}

{%- set tables = [
    ('Customers', 'customers', 'customer_id', 'modified_at'),
    ('Carriers', 'carriers', 'carrier_id', 'modified_at'),
    ('Warehouses', 'warehouses', 'warehouse_id', 'modified_at'),
    ('Routes', 'routes', 'route_id', 'modified_at'),
    ('Vehicles', 'vehicles', 'vehicle_id', 'modified_at'),
    ('Drivers', 'drivers', 'driver_id', 'modified_at'),
    ('Orders', 'orders', 'order_id', 'modified_at'),
    ('Shipments', 'shipments', 'shipment_id', 'modified_at'),
    ('ShipmentEvents', 'shipment_events', 'event_id', 'batch_id'),
] %}

with

{% for source_table, name, key, version in tables %}
    {{ name }}_outcomes as (

        select
            '{{ source_table }}' as source_table,
            landed.batch_id,
            case
                when {{ flag_is_true('landed.is_deleted') }} then 'tombstone'
                when current_rows.{{ key }} is null then 'unaccounted'
                when {{ flag_is_true('current_rows.is_deleted') }} then 'deleted'
                when current_rows.batch_id <> landed.batch_id
                    or current_rows.{{ version }} <> landed.{{ version }} then 'superseded'
                when current_rows.quarantine_reason is null then 'silver'
                else 'quarantine'
            end as outcome
        from {{ ref('brz_' ~ name) }} as landed
        left join {{ ref('slv_' ~ name ~ '_checked') }} as current_rows
            on landed.{{ key }} = current_rows.{{ key }}

    ),

{% endfor %}
outcomes as (

    {% for source_table, name, key, version in tables %}
        select * from {{ name }}_outcomes
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
