with

valid as (

    {{ valid_versions('carriers') }}

)

select * from valid
