{{ config(materialized='incremental', unique_key='vehicle_id') }}

with

vehicles as (

    {{ current_versions('vehicles') }}

),

carriers as (

    select carrier_id from {{ ref('slv_carriers') }}

),

checked as (

    select
        vehicles.*,
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

    {{ checked_versions('vehicles') }}

)

select * from final
