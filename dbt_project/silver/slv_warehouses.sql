with

checked as (

    select * from {{ ref('slv_warehouses_checked') }}

),

valid as (

    select
        warehouse_id,
        warehouse_code,
        warehouse_name,
        city,
        country,
        modified_at,
        batch_id,
        checked_at
    from checked
    where not {{ flag_is_true('is_deleted') }}
        and quarantine_reason is null

)

select * from valid
