with

shipments as (

    select * from {{ ref('fct_shipments') }}

),

delivered as (

    select
        carrier_id,
        cast(delivered_at as date) as delivery_date,
        is_on_time,
        -- the cross-database datediff is longer than a line once compiled
        {{ dbt.datediff('shipped_at', 'delivered_at', 'second') }} as transit_seconds,  -- noqa: LT05
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
        cast(
            sum(case when {{ flag_is_true('is_on_time') }} then 1 else 0 end) as {{ dbt.type_bigint() }}
        ) as on_time_deliveries,
        cast(sum(case when {{ flag_is_true('is_on_time') }} then 1 else 0 end) as {{ type_double() }})
        / count(*) as on_time_rate,
        -- from whole seconds: an integer sum is exact, so the result does not
        -- depend on the order in which parallel threads add the rows up
        cast(sum(transit_seconds) as {{ type_double() }}) / count(*) / 3600 as avg_transit_hours,
        cast(sum(freight_cost_usd) as decimal(18, 2)) as freight_cost_usd
    from delivered
    group by carrier_id, delivery_date

)

select * from final
