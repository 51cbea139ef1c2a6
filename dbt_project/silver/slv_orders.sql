with

valid as (

    {{ valid_versions('orders', extra_columns=['total_amount_usd']) }}

)

select * from valid
