with

customers as (

    select * from {{ ref('slv_customers') }}

),

final as (

    select
        customer_id,
        customer_code,
        customer_name,
        segment as customer_segment,
        country,
        city,
        created_at,
        modified_at
    from customers

)

select * from final
