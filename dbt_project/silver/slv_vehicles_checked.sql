{{ config(materialized='incremental', unique_key='vehicle_id') }}

with

vehicles as (

    {{ current_versions(ref('brz_vehicles'), 'vehicle_id', [
        'vehicle_id',
        'carrier_id',
        'plate_number',
        'vehicle_type',
        'capacity_kg',
        'modified_at'
    ]) }}

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
        vehicles.is_deleted,
        vehicles.batch_id,
        vehicles.previous_reason,
        case
            when {{ flag_is_true('vehicles.is_deleted') }} then null
            when carriers.carrier_id is null then 'unknown_carrier'
            when vehicles.capacity_kg is null or vehicles.capacity_kg <= 0 then 'capacity_not_positive'
        end as quarantine_reason
    from vehicles
    left join carriers
        on vehicles.carrier_id = carriers.carrier_id

),

final as (

    select
        checked.vehicle_id,
        checked.carrier_id,
        checked.plate_number,
        checked.vehicle_type,
        checked.capacity_kg,
        checked.modified_at,
        checked.is_deleted,
        checked.batch_id,
        checked.quarantine_reason,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as checked_at
    from checked
    {{- changed_versions_only('checked') }}

)

select * from final
