{{ config(materialized='incremental', unique_key='carrier_id') }}

with

carriers as (

    {{ current_versions(ref('brz_carriers'), 'carrier_id', [
        'carrier_id',
        'carrier_code',
        'carrier_name',
        'transport_mode',
        'modified_at'
    ]) }}

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
        carriers.is_deleted,
        carriers.batch_id,
        carriers.previous_reason,
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

    select
        checked.carrier_id,
        checked.carrier_code,
        checked.carrier_name,
        checked.transport_mode,
        checked.modified_at,
        checked.is_deleted,
        checked.batch_id,
        checked.quarantine_reason,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as checked_at
    from checked
    {{- changed_versions_only('checked') }}

)

select * from final
