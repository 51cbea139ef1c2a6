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
        batch_id,
        checked_at
    from checked
    where not {{ flag_is_true('is_deleted') }}
        and quarantine_reason is null

)

select * from valid
