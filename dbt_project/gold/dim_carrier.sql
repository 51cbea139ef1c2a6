with

carriers as (

    select * from {{ ref('slv_carriers') }}

),

final as (

    select
        carrier_id,
        carrier_code,
        carrier_name,
        transport_mode,
        modified_at
    from carriers

)

select * from final
