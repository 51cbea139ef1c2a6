with

source as (

    select * from {{ lake_batches('Vehicles') }} as batches

),

renamed as (

    select
        cast(VehicleID as {{ dbt.type_bigint() }}) as vehicle_id,
        cast(CarrierID as {{ dbt.type_bigint() }}) as carrier_id,
        cast(PlateNumber as {{ dbt.type_string() }}) as plate_number,
        cast(VehicleType as {{ dbt.type_string() }}) as vehicle_type,
        cast(CapacityKg as decimal(12, 2)) as capacity_kg,
        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,
        {{ load_metadata_columns() }}

    from source

)

select * from renamed
