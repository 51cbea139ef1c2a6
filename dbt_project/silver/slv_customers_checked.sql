with

versions as (

    {{ latest_version_per_key(ref('brz_customers'), 'customer_id') }}

),

customers as (

    select * from versions
    where not is_deleted

),

code_owners as (

    select
        customer_code,
        min(customer_id) as owner_customer_id
    from customers
    group by customer_code

),

checked as (

    select
        customers.customer_id,
        customers.customer_code,
        customers.customer_name,
        customers.segment,
        customers.country,
        customers.city,
        customers.created_at,
        customers.modified_at,
        customers.batch_id,
        case
            when customers.customer_code is null then 'missing_customer_code'
            when customers.customer_id <> code_owners.owner_customer_id then 'duplicate_customer_code'
        end as quarantine_reason
    from customers
    left join code_owners
        on customers.customer_code = code_owners.customer_code

)

select * from checked
