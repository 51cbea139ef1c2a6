with

warehouses as (

    select * from {{ ref('slv_warehouses') }}

),

final as (

    select
        warehouse_id,
        warehouse_code,
        warehouse_name,
        city,
        country,
        modified_at
    from warehouses

)

select * from final
