with

versions as (

    select * from {{ ref('snp_customers') }}

),

final as (

    select
        {{ scd2_validity('customer_id', 'customer_key') }},
        customer_id,
        customer_code,
        customer_name,
        segment as customer_segment,
        country,
        city,
        created_at,
        modified_at
    from versions

)

select * from final
