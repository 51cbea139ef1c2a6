-- The validity rule of the gold contract, checked on the fact itself: every
-- row has an existing carrier and order, a pick-up time, a positive weight,
-- and no delivery before pick-up. Returns the offending rows.
with

shipments as (

    select * from {{ ref('fct_shipments') }}

),

carriers as (

    select carrier_id from {{ ref('dim_carrier') }}

),

orders as (

    select order_id from {{ ref('slv_orders') }}

),

invalid as (

    select shipments.shipment_id
    from shipments
    left join carriers
        on shipments.carrier_id = carriers.carrier_id
    left join orders
        on shipments.order_id = orders.order_id
    where carriers.carrier_id is null
        or orders.order_id is null
        or shipments.shipped_at is null
        or shipments.weight_kg is null
        or shipments.weight_kg <= 0
        or shipments.delivered_at < shipments.shipped_at

)

select * from invalid
