with

versions as (

    {{ latest_version_per_key(ref('brz_warehouses'), 'warehouse_id') }}

),

warehouses as (

    select * from versions
    where not is_deleted

),

checked as (

    select
        warehouse_id,
        warehouse_code,
        warehouse_name,
        city,
        country,
        modified_at,
        batch_id,
        case
            when warehouse_code is null then 'missing_warehouse_code'
        end as quarantine_reason
    from warehouses

)

select * from checked
