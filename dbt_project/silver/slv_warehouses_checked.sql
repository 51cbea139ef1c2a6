{{ config(materialized='incremental', unique_key='warehouse_id') }}

with

warehouses as (

    {{ current_versions(ref('brz_warehouses'), 'warehouse_id', [
        'warehouse_id',
        'warehouse_code',
        'warehouse_name',
        'city',
        'country',
        'modified_at'
    ]) }}

),

checked as (

    select
        warehouse_id,
        warehouse_code,
        warehouse_name,
        city,
        country,
        modified_at,
        is_deleted,
        batch_id,
        previous_reason,
        case
            when {{ flag_is_true('is_deleted') }} then null
            when warehouse_code is null then 'missing_warehouse_code'
        end as quarantine_reason
    from warehouses

),

final as (

    select
        checked.warehouse_id,
        checked.warehouse_code,
        checked.warehouse_name,
        checked.city,
        checked.country,
        checked.modified_at,
        checked.is_deleted,
        checked.batch_id,
        checked.quarantine_reason,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as checked_at
    from checked
    {{- changed_versions_only('checked') }}

)

select * from final
