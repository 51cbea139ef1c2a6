{{ config(materialized='incremental', unique_key='carrier_id') }}

with

carriers as (

    {{ current_versions('carriers') }}

),

modes as (

    select mode_code from {{ ref('transport_modes') }}

),

checked as (

    select
        carriers.*,
        case
            when {{ flag_is_true('carriers.is_deleted') }} then null
            when carriers.carrier_code is null then 'missing_carrier_code'
            when modes.mode_code is null then 'unknown_transport_mode'
        end as quarantine_reason
    from carriers
    left join modes
        on carriers.transport_mode = modes.mode_code

),

final as (

    {{ checked_versions('carriers') }}

)

select * from final
