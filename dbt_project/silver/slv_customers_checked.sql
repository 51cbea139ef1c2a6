{{ config(materialized='incremental', unique_key='customer_id') }}

with

customers as (

    {{ current_versions(ref('brz_customers'), 'customer_id', [
        'customer_id',
        'customer_code',
        'customer_name',
        'segment',
        'country',
        'city',
        'created_at',
        'modified_at'
    ]) }}

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
        customers.customer_id,
        customers.customer_code,
        customers.customer_name,
        customers.segment,
        customers.country,
        customers.city,
        customers.created_at,
        customers.modified_at,
        customers.is_deleted,
        customers.batch_id,
        customers.previous_reason,
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

    select
        checked.customer_id,
        checked.customer_code,
        checked.customer_name,
        checked.segment,
        checked.country,
        checked.city,
        checked.created_at,
        checked.modified_at,
        checked.is_deleted,
        checked.batch_id,
        checked.quarantine_reason,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as checked_at
    from checked
    {{- changed_versions_only('checked') }}

)

select * from final
