-- Incremental: each run merges the shipments whose silver row, order,
-- customer or carrier silver wrote since the last run (`checked_at`), and the
-- post-hook deletes the shipments that left silver. The customer and carrier
-- keys are the dimension versions valid at `shipped_at`.
-- depends_on: {{ ref('slv_customers_checked') }}, {{ ref('slv_carriers_checked') }}
{{
    config(
        materialized='incremental',
        unique_key='shipment_id',
        on_schema_change='fail',
        post_hook="{{ delete_rows_not_in('shipment_id', ref('slv_shipments'), 'kept.shipped_at is not null') }}",
    )
}}

with

shipments as (

    select * from {{ ref('slv_shipments') }}

),

orders as (

    select * from {{ ref('slv_orders') }}

),

customer_versions as (

    select * from {{ ref('dim_customer') }}

),

carrier_versions as (

    select * from {{ ref('dim_carrier') }}

),

{% if is_incremental() %}
    changed_orders as (

        -- an order, or the customer of an order, that silver wrote since the last run
        select orders.order_id
        from orders
        left join {{ ref('slv_customers_checked') }} as customers
            on orders.customer_id = customers.customer_id
        where orders.checked_at > ({{ last_checked_at() }})
            or customers.checked_at > ({{ last_checked_at() }})

    ),

    changed_carriers as (

        select carrier_id
        from {{ ref('slv_carriers_checked') }}
        where checked_at > ({{ last_checked_at() }})

    ),

{% endif %}
valid_shipments as (

    -- silver already holds only shipments with an existing carrier and order,
    -- a positive weight and no delivery before pick-up; a fact also needs a pick-up
    select * from shipments
    where
        shipped_at is not null
        {%- if is_incremental() %}
            and (
                checked_at > ({{ last_checked_at() }})
                or order_id in (select changed_orders.order_id from changed_orders)
                or carrier_id in (select changed_carriers.carrier_id from changed_carriers)
            )
        {%- endif %}

),

final as (

    select
        valid_shipments.shipment_id,
        valid_shipments.order_id,
        orders.customer_id,
        customer_versions.customer_key,
        valid_shipments.carrier_id,
        carrier_versions.carrier_key,
        valid_shipments.route_id,
        valid_shipments.shipped_at,
        valid_shipments.promised_at,
        valid_shipments.delivered_at,
        valid_shipments.status,
        valid_shipments.weight_kg,
        valid_shipments.freight_cost_usd,
        {{ hours_between('valid_shipments.shipped_at', 'valid_shipments.delivered_at') }} as transit_hours,
        case
            when valid_shipments.delivered_at is null then null
            when valid_shipments.delivered_at <= valid_shipments.promised_at then {{ flag_literal(true) }}
            else {{ flag_literal(false) }}
        end as is_on_time,
        greatest(valid_shipments.checked_at, orders.checked_at) as checked_at
    from valid_shipments
    inner join orders
        on valid_shipments.order_id = orders.order_id
    left join customer_versions
        on orders.customer_id = customer_versions.customer_id
            and valid_shipments.shipped_at >= customer_versions.valid_from
            and (valid_shipments.shipped_at < customer_versions.valid_to or customer_versions.valid_to is null)
    left join carrier_versions
        on valid_shipments.carrier_id = carrier_versions.carrier_id
            and valid_shipments.shipped_at >= carrier_versions.valid_from
            and (valid_shipments.shipped_at < carrier_versions.valid_to or carrier_versions.valid_to is null)

)

select * from final
