with

valid as (

    {{ valid_versions('customers') }}

)

select * from valid
