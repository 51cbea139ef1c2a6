with

versions as (

    {{ latest_version_per_key(ref('brz_vehicles'), 'vehicle_id') }}

),

vehicles as (

    select * from versions
    where not is_deleted

),

carriers as (

    select carrier_id from {{ ref('slv_carriers') }}

),

checked as (

    select
        vehicles.vehicle_id,
        vehicles.carrier_id,
        vehicles.plate_number,
        vehicles.vehicle_type,
        vehicles.capacity_kg,
        vehicles.modified_at,
        vehicles.batch_id,
        case
            when carriers.carrier_id is null then 'unknown_carrier'
            when vehicles.capacity_kg is null or vehicles.capacity_kg <= 0 then 'capacity_not_positive'
        end as quarantine_reason
    from vehicles
    left join carriers
        on vehicles.carrier_id = carriers.carrier_id

)

select * from checked
