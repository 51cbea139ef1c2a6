with

versions as (

    select * from {{ ref('snp_carriers') }}

),

final as (

    select
        {{ scd2_validity('carrier_id', 'carrier_key') }},
        carrier_id,
        carrier_code,
        carrier_name,
        transport_mode,
        modified_at
    from versions

)

select * from final
