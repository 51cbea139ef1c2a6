with

orders as (

    select * from {{ ref('slv_orders') }}

),

customers as (

    select * from {{ ref('slv_customers') }}

),

statuses as (

    select * from {{ ref('order_statuses') }}

),

revenue_orders as (

    select
        cast(orders.ordered_at as date) as order_date,
        customers.segment as customer_segment,
        orders.total_amount_usd
    from orders
    inner join customers
        on orders.customer_id = customers.customer_id
    inner join statuses
        on orders.status = statuses.status_code
    where {{ flag_is_true('statuses.is_revenue') }}

),

final as (

    select
        order_date,
        customer_segment,
        cast(count(*) as {{ dbt.type_bigint() }}) as orders,
        cast(sum(total_amount_usd) as decimal(18, 2)) as revenue_usd
    from revenue_orders
    group by order_date, customer_segment

)

select * from final
