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
        batch_id
    from checked
    where quarantine_reason is null

)

select * from valid
