{{ config(materialized='incremental', unique_key='event_id') }}

with

events as (

    {{ current_versions('shipment_events') }}

),

shipments as (

    -- every current shipment, valid or quarantined: an event of a quarantined
    -- shipment is still a good event
    select shipment_id from {{ ref('slv_shipments_checked') }}
    where not {{ flag_is_true('is_deleted') }}

),

checked as (

    select
        events.*,
        case
            when {{ flag_is_true('events.is_deleted') }} then null
            when shipments.shipment_id is null then 'unknown_shipment'
            when events.event_at is null then 'missing_event_at'
        end as quarantine_reason
    from events
    left join shipments
        on events.shipment_id = shipments.shipment_id

),

final as (

    {{ checked_versions('shipment_events') }}

)

select * from final
