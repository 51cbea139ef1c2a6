with

valid as (

    {{ valid_versions('drivers') }}

)

select * from valid
