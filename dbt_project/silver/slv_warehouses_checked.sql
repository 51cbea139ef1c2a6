{{ config(materialized='incremental', unique_key='warehouse_id') }}

with

warehouses as (

    {{ current_versions('warehouses') }}

),

checked as (

    select
        warehouses.*,
        case
            when {{ flag_is_true('warehouses.is_deleted') }} then null
            when warehouses.warehouse_code is null then 'missing_warehouse_code'
        end as quarantine_reason
    from warehouses

),

final as (

    {{ checked_versions('warehouses') }}

)

select * from final
