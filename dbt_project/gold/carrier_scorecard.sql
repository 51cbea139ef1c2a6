-- The carrier scorecard: per carrier, ISO week (Monday) and calendar month
-- of pick-up (UTC), the service and cost numbers account managers review.
with

shipments as (

    select * from {{ ref('fct_shipments') }}

),

routes as (

    select
        route_id,
        distance_km
    from {{ ref('dim_route') }}

),

measured as (

    select
        shipments.carrier_id,
        shipments.status,
        shipments.is_on_time,
        shipments.weight_kg,
        shipments.freight_cost_usd,
        routes.distance_km,
        cast({{ dbt.date_trunc('week', 'shipments.shipped_at') }} as date) as week_start,
        cast({{ dbt.date_trunc('month', 'shipments.shipped_at') }} as date) as month_start,
        case
            when shipments.status = 'Delivered' and not {{ flag_is_true('shipments.is_on_time') }}
                then {{ dbt.datediff('shipments.promised_at', 'shipments.delivered_at', 'second') }}
        end as late_seconds
    from shipments
    left join routes
        on shipments.route_id = routes.route_id

),

periods as (

    select
        measured.*,
        'week' as period,
        measured.week_start as period_start
    from measured

    union all

    select
        measured.*,
        'month' as period,
        measured.month_start as period_start
    from measured

),

final as (

    select
        carrier_id,
        period,
        period_start,
        {{ delivery_counts_and_on_time_rate() }},
        -- from whole seconds: exact whatever order the rows are added up in
        {{ ratio('sum(late_seconds)', 'count(late_seconds) * 3600') }} as avg_late_delay_hours,
        {{ lost_and_returned_rates() }},
        cast(sum(freight_cost_usd) as decimal(18, 2)) as freight_cost_usd,
        {{ ratio('sum(freight_cost_usd)', 'sum(weight_kg)') }} as cost_per_kg_usd,
        {{ ratio(
            'sum(case when distance_km is not null then freight_cost_usd end)',
            'sum(distance_km)',
        ) }} as cost_per_km_usd
    from periods
    group by carrier_id, period, period_start

)

select * from final
