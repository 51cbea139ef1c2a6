{{ config(materialized='incremental', unique_key='shipment_id') }}

with

shipments as (

    {{ current_versions('shipments') }}

),

orders as (

    select order_id from {{ ref('slv_orders') }}

),

carriers as (

    select carrier_id from {{ ref('slv_carriers') }}

),

routes as (

    select route_id from {{ ref('slv_routes') }}

),

vehicles as (

    select vehicle_id from {{ ref('slv_vehicles') }}

),

drivers as (

    select driver_id from {{ ref('slv_drivers') }}

),

rates as (

    select
        currency_code,
        usd_per_unit
    from {{ ref('currency_rates') }}

),

statuses as (

    select status_code from {{ ref('shipment_statuses') }}

),

checked as (

    select
        shipments.*,
        {{ usd_amount('shipments.freight_cost', 'rates.usd_per_unit') }} as freight_cost_usd,
        case
            when {{ flag_is_true('shipments.is_deleted') }} then null
            when carriers.carrier_id is null then 'unknown_carrier'
            when orders.order_id is null then 'unknown_order'
            when routes.route_id is null then 'unknown_route'
            when shipments.vehicle_id is not null and vehicles.vehicle_id is null then 'unknown_vehicle'
            when shipments.driver_id is not null and drivers.driver_id is null then 'unknown_driver'
            when shipments.weight_kg is null or shipments.weight_kg <= 0 then 'weight_not_positive'
            when not {{ is_plausible_time('shipments.shipped_at') }} then 'implausible_timestamp'
            when not {{ is_plausible_time('shipments.promised_at') }} then 'implausible_timestamp'
            when not {{ is_plausible_time('shipments.delivered_at') }} then 'implausible_timestamp'
            when shipments.delivered_at < shipments.shipped_at then 'delivered_before_shipped'
            when shipments.freight_cost < 0 then 'negative_freight_cost'
            when statuses.status_code is null then 'unknown_shipment_status'
            when rates.currency_code is null then 'unknown_currency'
            when shipments.freight_cost is not null
                and {{ usd_amount('shipments.freight_cost', 'rates.usd_per_unit') }} is null
                then 'usd_amount_out_of_range'
        end as quarantine_reason
    from shipments
    left join orders
        on shipments.order_id = orders.order_id
    left join carriers
        on shipments.carrier_id = carriers.carrier_id
    left join routes
        on shipments.route_id = routes.route_id
    left join vehicles
        on shipments.vehicle_id = vehicles.vehicle_id
    left join drivers
        on shipments.driver_id = drivers.driver_id
    left join rates
        on shipments.currency = rates.currency_code
    left join statuses
        on shipments.status = statuses.status_code

),

final as (

    {{ checked_versions('shipments', extra_columns=['freight_cost_usd']) }}

)

select * from final
