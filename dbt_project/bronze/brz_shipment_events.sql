with

source as (

    select * from {{ source('lake', 'ShipmentEvents') }}
    {{- new_batches_only() }}

),

renamed as (

    select
        cast(EventID as {{ dbt.type_bigint() }}) as event_id,
        cast(ShipmentID as {{ dbt.type_bigint() }}) as shipment_id,
        cast(EventType as {{ dbt.type_string() }}) as event_type,
        {{ as_utc_timestamp('EventAt') }} as event_at,
        cast(Location as {{ dbt.type_string() }}) as event_location,
        _is_deleted as is_deleted,
        _batch_id as batch_id,
        {{ as_utc_timestamp('_extracted_at') }} as extracted_at,
        filename as source_file,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as loaded_at

    from source

)

select * from renamed
