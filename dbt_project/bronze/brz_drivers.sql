with

source as (

    select * from {{ source('lake', 'Drivers') }}
    {{- new_batches_only() }}

),

renamed as (

    select
        cast(DriverID as {{ dbt.type_bigint() }}) as driver_id,
        cast(CarrierID as {{ dbt.type_bigint() }}) as carrier_id,
        cast(FullName as {{ dbt.type_string() }}) as full_name,
        cast(LicenseNumber as {{ dbt.type_string() }}) as license_number,
        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,
        _is_deleted as is_deleted,
        _batch_id as batch_id,
        {{ as_utc_timestamp('_extracted_at') }} as extracted_at,
        filename as source_file,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as loaded_at

    from source

)

select * from renamed
