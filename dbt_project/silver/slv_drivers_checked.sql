with

versions as (

    {{ latest_version_per_key(ref('brz_drivers'), 'driver_id') }}

),

drivers as (

    select * from versions
    where not is_deleted

),

carriers as (

    select carrier_id from {{ ref('slv_carriers') }}

),

checked as (

    select
        drivers.driver_id,
        drivers.carrier_id,
        drivers.full_name,
        drivers.license_number,
        drivers.modified_at,
        drivers.batch_id,
        case
            when carriers.carrier_id is null then 'unknown_carrier'
            when drivers.license_number is null then 'missing_license_number'
        end as quarantine_reason
    from drivers
    left join carriers
        on drivers.carrier_id = carriers.carrier_id

)

select * from checked
