-- Nothing is lost: per source table, the keys whose latest landed version is
-- not a delete (straight from bronze), and where they ended up. Every such key
-- must be in exactly one of silver and quarantine: `unaccounted_rows` counts
-- the keys in neither or in both, and its test requires 0.
{%- set tables = [
    ('Customers', 'brz_customers', 'customer_id', 'slv_customers'),
    ('Carriers', 'brz_carriers', 'carrier_id', 'slv_carriers'),
    ('Warehouses', 'brz_warehouses', 'warehouse_id', 'slv_warehouses'),
    ('Routes', 'brz_routes', 'route_id', 'slv_routes'),
    ('Vehicles', 'brz_vehicles', 'vehicle_id', 'slv_vehicles'),
    ('Drivers', 'brz_drivers', 'driver_id', 'slv_drivers'),
    ('Orders', 'brz_orders', 'order_id', 'slv_orders'),
    ('Shipments', 'brz_shipments', 'shipment_id', 'slv_shipments'),
    ('ShipmentEvents', 'brz_shipment_events', 'event_id', 'slv_shipment_events'),
] %}

with

quarantine as (

    select
        source_table,
        source_key
    from {{ ref('slv_quarantine') }}

),

{% for source_table, bronze, key, silver in tables %}
    {{ bronze }}_current as (

        select latest.{{ key }} as source_key
        from (
            {{ latest_version_per_key(ref(bronze), key, order_by='batch_id desc') }}
        ) as latest
        where not latest.is_deleted

    ),

    {{ bronze }}_accounted as (

        select
            '{{ source_table }}' as source_table,
            count(*) as current_rows,
            sum(case when silver_rows.{{ key }} is null then 0 else 1 end) as silver_rows,
            sum(case when quarantine.source_key is null then 0 else 1 end) as quarantined_rows,
            sum(
                case
                    when (case when silver_rows.{{ key }} is null then 0 else 1 end)
                        + (case when quarantine.source_key is null then 0 else 1 end) = 1 then 0
                    else 1
                end
            ) as unaccounted_rows
        from {{ bronze }}_current as current_rows
        left join {{ ref(silver) }} as silver_rows
            on current_rows.source_key = silver_rows.{{ key }}
        left join quarantine
            on quarantine.source_table = '{{ source_table }}'
                and current_rows.source_key = quarantine.source_key

    ),

{% endfor %}
reconciliation as (

    {% for source_table, bronze, key, silver in tables %}
        select * from {{ bronze }}_accounted
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from reconciliation
