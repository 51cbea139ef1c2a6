with

checked as (

    select * from {{ ref('slv_customers_checked') }}

),

valid as (

    select
        customer_id,
        customer_code,
        customer_name,
        segment,
        country,
        city,
        created_at,
        modified_at,
        batch_id,
        checked_at
    from checked
    where not {{ flag_is_true('is_deleted') }}
        and quarantine_reason is null

)

select * from valid
