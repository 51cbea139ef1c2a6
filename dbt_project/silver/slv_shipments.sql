with

checked as (

    select * from {{ ref('slv_shipments_checked') }}

),

valid as (

    select
        shipment_id,
        order_id,
        carrier_id,
        route_id,
        vehicle_id,
        driver_id,
        shipped_at,
        promised_at,
        delivered_at,
        status,
        weight_kg,
        freight_cost,
        currency,
        freight_cost_usd,
        modified_at,
        batch_id,
        checked_at
    from checked
    where not {{ flag_is_true('is_deleted') }}
        and quarantine_reason is null

)

select * from valid
