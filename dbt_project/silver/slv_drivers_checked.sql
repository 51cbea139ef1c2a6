{{ config(materialized='incremental', unique_key='driver_id') }}

with

drivers as (

    {{ current_versions('drivers') }}

),

carriers as (

    select carrier_id from {{ ref('slv_carriers') }}

),

checked as (

    select
        drivers.*,
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

    {{ checked_versions('drivers') }}

)

select * from final
