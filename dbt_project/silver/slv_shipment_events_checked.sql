{{ config(materialized='incremental', unique_key='event_id') }}

with

events as (

    {{ current_versions(ref('brz_shipment_events'), 'event_id', [
        'event_id',
        'shipment_id',
        'event_type',
        'event_at',
        'event_location'
    ], order_by='batch_id desc') }}

),

shipments as (

    -- every current shipment, valid or quarantined: an event of a quarantined
    -- shipment is still a good event
    select shipment_id from {{ ref('slv_shipments_checked') }}
    where not {{ flag_is_true('is_deleted') }}

),

checked as (

    select
        events.event_id,
        events.shipment_id,
        events.event_type,
        events.event_at,
        events.event_location,
        events.is_deleted,
        events.batch_id,
        events.previous_reason,
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

    select
        checked.event_id,
        checked.shipment_id,
        checked.event_type,
        checked.event_at,
        checked.event_location,
        checked.is_deleted,
        checked.batch_id,
        checked.quarantine_reason,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as checked_at
    from checked
    {{- changed_versions_only('checked') }}

)

select * from final
