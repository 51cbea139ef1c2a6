with

source as (

    select * from {{ lake_batches('Warehouses') }} as batches

),

renamed as (

    select
        cast(WarehouseID as {{ dbt.type_bigint() }}) as warehouse_id,
        cast(WarehouseCode as {{ dbt.type_string() }}) as warehouse_code,
        cast(Name as {{ dbt.type_string() }}) as warehouse_name,
        cast(City as {{ dbt.type_string() }}) as city,
        cast(Country as {{ dbt.type_string() }}) as country,
        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,
        {{ load_metadata_columns() }}

    from source

)

select * from renamed
