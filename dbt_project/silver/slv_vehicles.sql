with

checked as (

    select * from {{ ref('slv_vehicles_checked') }}

),

valid as (

    select
        vehicle_id,
        carrier_id,
        plate_number,
        vehicle_type,
        capacity_kg,
        modified_at,
        batch_id
    from checked
    where quarantine_reason is null

)

select * from valid
