with

checked as (

    select * from {{ ref('slv_shipment_events_checked') }}

),

valid as (

    select
        event_id,
        shipment_id,
        event_type,
        event_at,
        event_location,
        batch_id,
        checked_at
    from checked
    where not {{ flag_is_true('is_deleted') }}
        and quarantine_reason is null

)

select * from valid
