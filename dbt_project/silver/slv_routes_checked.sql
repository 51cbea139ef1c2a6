{{ config(materialized='incremental', unique_key='route_id') }}

with

routes as (

    {{ current_versions(ref('brz_routes'), 'route_id', [
        'route_id',
        'origin_warehouse_id',
        'destination_city',
        'destination_country',
        'distance_km',
        'planned_transit_hours',
        'modified_at'
    ]) }}

),

warehouses as (

    select warehouse_id from {{ ref('slv_warehouses') }}

),

checked as (

    select
        routes.route_id,
        routes.origin_warehouse_id,
        routes.destination_city,
        routes.destination_country,
        routes.distance_km,
        routes.planned_transit_hours,
        routes.modified_at,
        routes.is_deleted,
        routes.batch_id,
        routes.previous_reason,
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

    select
        checked.route_id,
        checked.origin_warehouse_id,
        checked.destination_city,
        checked.destination_country,
        checked.distance_km,
        checked.planned_transit_hours,
        checked.modified_at,
        checked.is_deleted,
        checked.batch_id,
        checked.quarantine_reason,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as checked_at
    from checked
    {{- changed_versions_only('checked') }}

)

select * from final
