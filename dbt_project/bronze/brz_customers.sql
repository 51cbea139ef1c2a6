with

source as (

    select * from {{ lake_batches('Customers') }} as batches

),

renamed as (

    select
        cast(CustomerID as {{ dbt.type_bigint() }}) as customer_id,
        cast(CustomerCode as {{ dbt.type_string() }}) as customer_code,
        cast(Name as {{ dbt.type_string() }}) as customer_name,
        cast(Segment as {{ dbt.type_string() }}) as segment,
        cast(Country as {{ dbt.type_string() }}) as country,
        cast(City as {{ dbt.type_string() }}) as city,
        {{ as_utc_timestamp('CreatedAt') }} as created_at,
        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,
        {{ load_metadata_columns() }}

    from source

)

select * from renamed
