with

checked as (

    select * from {{ ref('slv_carriers_checked') }}

),

valid as (

    select
        carrier_id,
        carrier_code,
        carrier_name,
        transport_mode,
        modified_at,
        batch_id,
        checked_at
    from checked
    where not {{ flag_is_true('is_deleted') }}
        and quarantine_reason is null

)

select * from valid
