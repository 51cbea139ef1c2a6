{{ config(materialized='incremental', unique_key='shipment_id') }}

with

shipments as (

    {{ current_versions(ref('brz_shipments'), 'shipment_id', [
        'shipment_id',
        'order_id',
        'carrier_id',
        'route_id',
        'vehicle_id',
        'driver_id',
        'shipped_at',
        'promised_at',
        'delivered_at',
        'status',
        'weight_kg',
        'freight_cost',
        'currency',
        'modified_at'
    ]) }}

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
        shipments.shipment_id,
        shipments.order_id,
        shipments.carrier_id,
        shipments.route_id,
        shipments.vehicle_id,
        shipments.driver_id,
        shipments.shipped_at,
        shipments.promised_at,
        shipments.delivered_at,
        shipments.status,
        shipments.weight_kg,
        shipments.freight_cost,
        shipments.currency,
        cast(round(shipments.freight_cost * rates.usd_per_unit, 2) as decimal(18, 2)) as freight_cost_usd,
        shipments.modified_at,
        shipments.is_deleted,
        shipments.batch_id,
        shipments.previous_reason,
        case
            when {{ flag_is_true('shipments.is_deleted') }} then null
            when carriers.carrier_id is null then 'unknown_carrier'
            when orders.order_id is null then 'unknown_order'
            when routes.route_id is null then 'unknown_route'
            when shipments.weight_kg is null or shipments.weight_kg <= 0 then 'weight_not_positive'
            when shipments.delivered_at < shipments.shipped_at then 'delivered_before_shipped'
            when statuses.status_code is null then 'unknown_shipment_status'
            when rates.currency_code is null then 'unknown_currency'
        end as quarantine_reason
    from shipments
    left join orders
        on shipments.order_id = orders.order_id
    left join carriers
        on shipments.carrier_id = carriers.carrier_id
    left join routes
        on shipments.route_id = routes.route_id
    left join rates
        on shipments.currency = rates.currency_code
    left join statuses
        on shipments.status = statuses.status_code

),

final as (

    select
        checked.shipment_id,
        checked.order_id,
        checked.carrier_id,
        checked.route_id,
        checked.vehicle_id,
        checked.driver_id,
        checked.shipped_at,
        checked.promised_at,
        checked.delivered_at,
        checked.status,
        checked.weight_kg,
        checked.freight_cost,
        checked.currency,
        checked.freight_cost_usd,
        checked.modified_at,
        checked.is_deleted,
        checked.batch_id,
        checked.quarantine_reason,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as checked_at
    from checked
    {{- changed_versions_only('checked') }}

)

select * from final
