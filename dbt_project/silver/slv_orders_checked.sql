{{ config(materialized='incremental', unique_key='order_id') }}

with

orders as (

    {{ current_versions('orders') }}

),

customers as (

    select customer_id from {{ ref('slv_customers') }}

),

rates as (

    select
        currency_code,
        usd_per_unit
    from {{ ref('currency_rates') }}

),

statuses as (

    select status_code from {{ ref('order_statuses') }}

),

checked as (

    select
        orders.*,
        {{ usd_amount('orders.total_amount', 'rates.usd_per_unit') }} as total_amount_usd,
        case
            when {{ flag_is_true('orders.is_deleted') }} then null
            when customers.customer_id is null then 'unknown_customer'
            when orders.ordered_at is null then 'missing_ordered_at'
            when not {{ is_plausible_time('orders.ordered_at') }} then 'implausible_timestamp'
            when statuses.status_code is null then 'unknown_order_status'
            when rates.currency_code is null then 'unknown_currency'
            when orders.total_amount is null or orders.total_amount < 0 then 'negative_total_amount'
            when {{ usd_amount('orders.total_amount', 'rates.usd_per_unit') }} is null then 'usd_amount_out_of_range'
        end as quarantine_reason
    from orders
    left join customers
        on orders.customer_id = customers.customer_id
    left join rates
        on orders.currency = rates.currency_code
    left join statuses
        on orders.status = statuses.status_code

),

final as (

    {{ checked_versions('orders', extra_columns=['total_amount_usd']) }}

)

select * from final
