with

valid as (

    {{ valid_versions('vehicles') }}

)

select * from valid
