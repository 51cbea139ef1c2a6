with

valid as (

    {{ valid_versions('shipment_events') }}

)

select * from valid
