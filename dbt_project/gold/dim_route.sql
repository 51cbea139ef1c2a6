with

routes as (

    select * from {{ ref('slv_routes') }}

),

warehouses as (

    select * from {{ ref('slv_warehouses') }}

),

final as (

    select
        routes.route_id,
        routes.origin_warehouse_id,
        warehouses.warehouse_code as origin_warehouse_code,
        warehouses.city as origin_city,
        warehouses.country as origin_country,
        routes.destination_city,
        routes.destination_country,
        routes.distance_km,
        routes.planned_transit_hours,
        routes.modified_at
    from routes
    inner join warehouses
        on routes.origin_warehouse_id = warehouses.warehouse_id

)

select * from final
