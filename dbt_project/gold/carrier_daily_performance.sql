with

shipments as (

    select * from {{ ref('fct_shipments') }}

),

delivered as (

    select
        carrier_id,
        cast(delivered_at as date) as delivery_date,
        is_on_time,
        transit_hours,
        freight_cost_usd
    from shipments
    where status = 'Delivered'
        and delivered_at is not null

),

final as (

    select
        carrier_id,
        delivery_date,
        cast(count(*) as {{ dbt.type_bigint() }}) as shipments_delivered,
        cast(sum(case when is_on_time then 1 else 0 end) as {{ dbt.type_bigint() }}) as on_time_deliveries,
        cast(sum(case when is_on_time then 1 else 0 end) as {{ type_double() }})
        / count(*) as on_time_rate,
        cast(avg(transit_hours) as {{ type_double() }}) as avg_transit_hours,
        cast(sum(freight_cost_usd) as decimal(18, 2)) as freight_cost_usd
    from delivered
    group by carrier_id, delivery_date

)

select * from final
