with

versions as (

    {{ latest_version_per_key(ref('brz_carriers'), 'carrier_id') }}

),

carriers as (

    select * from versions
    where not is_deleted

),

modes as (

    select mode_code from {{ ref('transport_modes') }}

),

checked as (

    select
        carriers.carrier_id,
        carriers.carrier_code,
        carriers.carrier_name,
        carriers.transport_mode,
        carriers.modified_at,
        carriers.batch_id,
        case
            when carriers.carrier_code is null then 'missing_carrier_code'
            when modes.mode_code is null then 'unknown_transport_mode'
        end as quarantine_reason
    from carriers
    left join modes
        on carriers.transport_mode = modes.mode_code

)

select * from checked
