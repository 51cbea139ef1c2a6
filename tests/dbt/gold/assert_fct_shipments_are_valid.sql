-- The validity rule of the gold contract, checked on the fact itself: every
-- row has an existing carrier, an order, a pick-up time, a positive weight,
-- and no delivery before pick-up. Returns the offending rows. (That the order
-- exists is tested in silver: slv_shipments.order_id -> slv_orders; a test here
-- reads gold only, so that the DAG runs it after gold is built.)
with

shipments as (

    select * from {{ ref('fct_shipments') }}

),

carriers as (

    select carrier_id from {{ ref('dim_carrier') }}
    where {{ flag_is_true('is_current') }}

),

invalid as (

    select shipments.shipment_id
    from shipments
    left join carriers
        on shipments.carrier_id = carriers.carrier_id
    where carriers.carrier_id is null
        or shipments.order_id is null
        or shipments.shipped_at is null
        or shipments.weight_kg is null
        or shipments.weight_kg <= 0
        or shipments.delivered_at < shipments.shipped_at

)

select * from invalid
