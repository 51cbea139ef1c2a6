with

source as (

    select * from {{ source('lake', 'Warehouses') }}
    {{- new_batches_only() }}

),

renamed as (

    select
        cast(WarehouseID as {{ dbt.type_bigint() }}) as warehouse_id,
        cast(WarehouseCode as {{ dbt.type_string() }}) as warehouse_code,
        cast(Name as {{ dbt.type_string() }}) as warehouse_name,
        cast(City as {{ dbt.type_string() }}) as city,
        cast(Country as {{ dbt.type_string() }}) as country,
        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,
        _is_deleted as is_deleted,
        _batch_id as batch_id,
        {{ as_utc_timestamp('_extracted_at') }} as extracted_at,
        filename as source_file,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as loaded_at

    from source

)

select * from renamed
