with

source as (

    select * from {{ source('lake', 'Orders') }}
    {{- new_batches_only() }}

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
        _is_deleted as is_deleted,
        _batch_id as batch_id,
        {{ as_utc_timestamp('_extracted_at') }} as extracted_at,
        filename as source_file,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as loaded_at

    from source

)

select * from renamed
