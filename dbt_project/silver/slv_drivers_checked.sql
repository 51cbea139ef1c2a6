{{ config(materialized='incremental', unique_key='driver_id') }}

with

drivers as (

    {{ current_versions(ref('brz_drivers'), 'driver_id', [
        'driver_id',
        'carrier_id',
        'full_name',
        'license_number',
        'modified_at'
    ]) }}

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
        drivers.is_deleted,
        drivers.batch_id,
        drivers.previous_reason,
        case
            when {{ flag_is_true('drivers.is_deleted') }} then null
            when carriers.carrier_id is null then 'unknown_carrier'
            when drivers.license_number is null then 'missing_license_number'
        end as quarantine_reason
    from drivers
    left join carriers
        on drivers.carrier_id = carriers.carrier_id

),

final as (

    select
        checked.driver_id,
        checked.carrier_id,
        checked.full_name,
        checked.license_number,
        checked.modified_at,
        checked.is_deleted,
        checked.batch_id,
        checked.quarantine_reason,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as checked_at
    from checked
    {{- changed_versions_only('checked') }}

)

select * from final
