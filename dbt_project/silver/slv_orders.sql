with

checked as (

    select * from {{ ref('slv_orders_checked') }}

),

valid as (

    select
        order_id,
        customer_id,
        ordered_at,
        status,
        currency,
        total_amount,
        total_amount_usd,
        modified_at,
        batch_id,
        checked_at
    from checked
    where not {{ flag_is_true('is_deleted') }}
        and quarantine_reason is null

)

select * from valid
