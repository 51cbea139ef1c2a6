with

valid as (

    {{ valid_versions('routes') }}

)

select * from valid
