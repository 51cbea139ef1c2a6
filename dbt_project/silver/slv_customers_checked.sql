{{ config(materialized='incremental', unique_key='customer_id') }}

with

customers as (

    {{ current_versions('customers') }}

),

code_owners as (

    select
        customer_code,
        min(customer_id) as owner_customer_id
    from customers
    where not {{ flag_is_true('is_deleted') }}
    group by customer_code

),

checked as (

    select
        customers.*,
        case
            when {{ flag_is_true('customers.is_deleted') }} then null
            when customers.customer_code is null then 'missing_customer_code'
            when customers.customer_id <> code_owners.owner_customer_id then 'duplicate_customer_code'
        end as quarantine_reason
    from customers
    left join code_owners
        on customers.customer_code = code_owners.customer_code

),

final as (

    {{ checked_versions('customers') }}

)

select * from final
