-- Customer service level: per customer segment (the segment the customer
-- had when the shipment was picked up) and UTC month of pick-up.
with

shipments as (

    select * from {{ ref('fct_shipments') }}

),

customer_versions as (

    select
        customer_key,
        customer_segment
    from {{ ref('dim_customer') }}

),

measured as (

    select
        customer_versions.customer_segment,
        shipments.status,
        shipments.is_on_time,
        cast({{ dbt.date_trunc('month', 'shipments.shipped_at') }} as date) as month_start,
        case
            when shipments.status = 'Delivered'
                then {{ dbt.datediff('shipments.shipped_at', 'shipments.delivered_at', 'second') }}
        end as transit_seconds
    from shipments
    inner join customer_versions
        on shipments.customer_key = customer_versions.customer_key

),

final as (

    select
        customer_segment,
        month_start,
        {{ delivery_counts_and_on_time_rate() }},
        {{ ratio('sum(transit_seconds)', 'count(transit_seconds) * 3600') }} as avg_transit_hours,
        {{ lost_and_returned_rates() }}
    from measured
    group by customer_segment, month_start

)

select * from final
