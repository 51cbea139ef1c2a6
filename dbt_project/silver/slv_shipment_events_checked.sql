with

versions as (

    {{ latest_version_per_key(ref('brz_shipment_events'), 'event_id', order_by='batch_id desc') }}

),

events as (

    select * from versions
    where not is_deleted

),

shipments as (

    -- every current shipment, valid or quarantined: an event of a quarantined
    -- shipment is still a good event
    select shipment_id from {{ ref('slv_shipments_checked') }}

),

checked as (

    select
        events.event_id,
        events.shipment_id,
        events.event_type,
        events.event_at,
        events.event_location,
        events.batch_id,
        case
            when shipments.shipment_id is null then 'unknown_shipment'
            when events.event_at is null then 'missing_event_at'
        end as quarantine_reason
    from events
    left join shipments
        on events.shipment_id = shipments.shipment_id

)

select * from checked
