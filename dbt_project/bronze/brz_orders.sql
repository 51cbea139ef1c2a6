with

source as (

    select * from {{ lake_batches('Orders') }} as batches

),

renamed as (

    select
        cast(OrderID as {{ dbt.type_bigint() }}) as order_id,
        cast(CustomerID as {{ dbt.type_bigint() }}) as customer_id,
        {{ as_utc_timestamp('OrderedAt') }} as ordered_at,
        cast(Status as {{ dbt.type_string() }}) as status,
        cast(Currency as {{ dbt.type_string() }}) as currency,
        cast(TotalAmount as decimal(18, 2)) as total_amount,
        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,
        {{ load_metadata_columns() }}

    from source

)

select * from renamed
