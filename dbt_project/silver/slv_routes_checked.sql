with

versions as (

    {{ latest_version_per_key(ref('brz_routes'), 'route_id') }}

),

routes as (

    select * from versions
    where not is_deleted

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
        routes.batch_id,
        case
            when warehouses.warehouse_id is null then 'unknown_origin_warehouse'
            when routes.distance_km is null or routes.distance_km <= 0 then 'distance_not_positive'
            when routes.planned_transit_hours is null or routes.planned_transit_hours <= 0
                then 'planned_transit_not_positive'
        end as quarantine_reason
    from routes
    left join warehouses
        on routes.origin_warehouse_id = warehouses.warehouse_id

)

select * from checked
