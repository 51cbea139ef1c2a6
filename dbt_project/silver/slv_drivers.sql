with

checked as (

    select * from {{ ref('slv_drivers_checked') }}

),

valid as (

    select
        driver_id,
        carrier_id,
        full_name,
        license_number,
        modified_at,
        batch_id,
        checked_at
    from checked
    where not {{ flag_is_true('is_deleted') }}
        and quarantine_reason is null

)

select * from valid
