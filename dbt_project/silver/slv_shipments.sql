with

valid as (

    {{ valid_versions('shipments', extra_columns=['freight_cost_usd']) }}

)

select * from valid
