with

source as (

    select * from {{ lake_batches('ShipmentEvents') }} as batches

),

renamed as (

    select
        cast(EventID as {{ dbt.type_bigint() }}) as event_id,
        cast(ShipmentID as {{ dbt.type_bigint() }}) as shipment_id,
        cast(EventType as {{ dbt.type_string() }}) as event_type,
        {{ as_utc_timestamp('EventAt') }} as event_at,
        cast(Location as {{ dbt.type_string() }}) as event_location,
        {{ load_metadata_columns() }}

    from source

)

select * from renamed
