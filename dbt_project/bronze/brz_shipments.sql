with

source as (

    select * from {{ lake_batches('Shipments') }} as batches

),

renamed as (

    select
        cast(ShipmentID as {{ dbt.type_bigint() }}) as shipment_id,
        cast(OrderID as {{ dbt.type_bigint() }}) as order_id,
        cast(CarrierID as {{ dbt.type_bigint() }}) as carrier_id,
        cast(RouteID as {{ dbt.type_bigint() }}) as route_id,
        cast(VehicleID as {{ dbt.type_bigint() }}) as vehicle_id,
        cast(DriverID as {{ dbt.type_bigint() }}) as driver_id,
        {{ as_utc_timestamp('ShippedAt') }} as shipped_at,
        {{ as_utc_timestamp('PromisedAt') }} as promised_at,
        {{ as_utc_timestamp('DeliveredAt') }} as delivered_at,
        cast(Status as {{ dbt.type_string() }}) as status,
        cast(WeightKg as decimal(12, 2)) as weight_kg,
        cast(FreightCost as decimal(18, 2)) as freight_cost,
        cast(Currency as {{ dbt.type_string() }}) as currency,
        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,
        {{ load_metadata_columns() }}

    from source

)

select * from renamed
