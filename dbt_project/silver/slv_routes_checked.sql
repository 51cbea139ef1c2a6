{{ config(materialized='incremental', unique_key='route_id') }}

with

routes as (

    {{ current_versions('routes') }}

),

warehouses as (

    select warehouse_id from {{ ref('slv_warehouses') }}

),

checked as (

    select
        routes.*,
        case
            when {{ flag_is_true('routes.is_deleted') }} then null
            when warehouses.warehouse_id is null then 'unknown_origin_warehouse'
            when routes.distance_km is null or routes.distance_km <= 0 then 'distance_not_positive'
            when routes.planned_transit_hours is null or routes.planned_transit_hours <= 0
                then 'planned_transit_not_positive'
        end as quarantine_reason
    from routes
    left join warehouses
        on routes.origin_warehouse_id = warehouses.warehouse_id

),

final as (

    {{ checked_versions('routes') }}

)

select * from final
