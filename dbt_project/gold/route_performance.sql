-- Route performance against plan: per route and UTC month of delivery, how
-- long delivered shipments took against the route's PlannedTransitHours.
with

shipments as (

    select * from {{ ref('fct_shipments') }}

),

routes as (

    select * from {{ ref('dim_route') }}

),

delivered as (

    select
        shipments.route_id,
        routes.planned_transit_hours,
        cast({{ dbt.date_trunc('month', 'shipments.delivered_at') }} as date) as delivery_month,
        -- the cross-database datediff is longer than a line once compiled
        {{ dbt.datediff('shipments.shipped_at', 'shipments.delivered_at', 'second') }} as transit_seconds  -- noqa: LT05
    from shipments
    inner join routes
        on shipments.route_id = routes.route_id
    where shipments.status = 'Delivered'
        and shipments.delivered_at is not null

),

final as (

    select
        route_id,
        delivery_month,
        max(planned_transit_hours) as planned_transit_hours,
        cast(count(*) as {{ dbt.type_bigint() }}) as shipments_delivered,
        {{ ratio('sum(transit_seconds)', 'count(*) * 3600') }} as avg_transit_hours,
        {{ ratio('sum(transit_seconds)', 'count(*) * 3600') }} - max(planned_transit_hours) as avg_hours_over_plan,
        {{ ratio(
            'sum(case when transit_seconds <= planned_transit_hours * 3600 then 1 else 0 end)',
            'count(*)',
        ) }} as within_plan_rate
    from delivered
    group by route_id, delivery_month

)

select * from final
