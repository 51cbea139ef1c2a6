with

source as (

    select * from {{ lake_batches('Drivers') }} as batches

),

renamed as (

    select
        cast(DriverID as {{ dbt.type_bigint() }}) as driver_id,
        cast(CarrierID as {{ dbt.type_bigint() }}) as carrier_id,
        cast(FullName as {{ dbt.type_string() }}) as full_name,
        cast(LicenseNumber as {{ dbt.type_string() }}) as license_number,
        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,
        {{ load_metadata_columns() }}

    from source

)

select * from renamed
