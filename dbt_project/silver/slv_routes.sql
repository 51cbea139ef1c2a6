with

checked as (

    select * from {{ ref('slv_routes_checked') }}

),

valid as (

    select
        route_id,
        origin_warehouse_id,
        destination_city,
        destination_country,
        distance_km,
        planned_transit_hours,
        modified_at,
        batch_id,
        checked_at
    from checked
    where not {{ flag_is_true('is_deleted') }}
        and quarantine_reason is null

)

select * from valid
