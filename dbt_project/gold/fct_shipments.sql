with

shipments as (

    select * from {{ ref('slv_shipments') }}

),

orders as (

    select * from {{ ref('slv_orders') }}

),

valid_shipments as (

    -- silver already holds only shipments with an existing carrier and order,
    -- a positive weight and no delivery before pick-up; a fact also needs a pick-up
    select * from shipments
    where shipped_at is not null

),

final as (

    select
        valid_shipments.shipment_id,
        valid_shipments.order_id,
        orders.customer_id,
        valid_shipments.carrier_id,
        valid_shipments.route_id,
        valid_shipments.shipped_at,
        valid_shipments.promised_at,
        valid_shipments.delivered_at,
        valid_shipments.status,
        valid_shipments.weight_kg,
        valid_shipments.freight_cost_usd,
        {{ hours_between('valid_shipments.shipped_at', 'valid_shipments.delivered_at') }} as transit_hours,
        case
            when valid_shipments.delivered_at is null then null
            when valid_shipments.delivered_at <= valid_shipments.promised_at then true
            else false
        end as is_on_time
    from valid_shipments
    inner join orders
        on valid_shipments.order_id = orders.order_id

)

select * from final
