with

quarantined as (

    select
        'Customers' as source_table,
        customer_id as source_key,
        quarantine_reason,
        batch_id
    from {{ ref('slv_customers_checked') }}
    where not {{ flag_is_true('is_deleted') }} and quarantine_reason is not null

    union all

    select
        'Carriers' as source_table,
        carrier_id as source_key,
        quarantine_reason,
        batch_id
    from {{ ref('slv_carriers_checked') }}
    where not {{ flag_is_true('is_deleted') }} and quarantine_reason is not null

    union all

    select
        'Warehouses' as source_table,
        warehouse_id as source_key,
        quarantine_reason,
        batch_id
    from {{ ref('slv_warehouses_checked') }}
    where not {{ flag_is_true('is_deleted') }} and quarantine_reason is not null

    union all

    select
        'Routes' as source_table,
        route_id as source_key,
        quarantine_reason,
        batch_id
    from {{ ref('slv_routes_checked') }}
    where not {{ flag_is_true('is_deleted') }} and quarantine_reason is not null

    union all

    select
        'Vehicles' as source_table,
        vehicle_id as source_key,
        quarantine_reason,
        batch_id
    from {{ ref('slv_vehicles_checked') }}
    where not {{ flag_is_true('is_deleted') }} and quarantine_reason is not null

    union all

    select
        'Drivers' as source_table,
        driver_id as source_key,
        quarantine_reason,
        batch_id
    from {{ ref('slv_drivers_checked') }}
    where not {{ flag_is_true('is_deleted') }} and quarantine_reason is not null

    union all

    select
        'Orders' as source_table,
        order_id as source_key,
        quarantine_reason,
        batch_id
    from {{ ref('slv_orders_checked') }}
    where not {{ flag_is_true('is_deleted') }} and quarantine_reason is not null

    union all

    select
        'Shipments' as source_table,
        shipment_id as source_key,
        quarantine_reason,
        batch_id
    from {{ ref('slv_shipments_checked') }}
    where not {{ flag_is_true('is_deleted') }} and quarantine_reason is not null

    union all

    select
        'ShipmentEvents' as source_table,
        event_id as source_key,
        quarantine_reason,
        batch_id
    from {{ ref('slv_shipment_events_checked') }}
    where not {{ flag_is_true('is_deleted') }} and quarantine_reason is not null

)

select * from quarantined
