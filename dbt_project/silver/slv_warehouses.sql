with

valid as (

    {{ valid_versions('warehouses') }}

)

select * from valid
