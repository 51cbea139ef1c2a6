{#- Aggregates over shipments (`status`, `is_on_time`) that the service KPI
    marts share: select items, without a trailing comma. -#}

{#- shipments, shipments_delivered and on_time_rate (on time among the delivered). -#}
{% macro delivery_counts_and_on_time_rate() -%}
        cast(count(*) as {{ dbt.type_bigint() }}) as shipments,
        cast(sum(case when status = 'Delivered' then 1 else 0 end) as {{ dbt.type_bigint() }}) as shipments_delivered,
        {{ ratio(
            "sum(case when status = 'Delivered' and " ~ flag_is_true('is_on_time') ~ " then 1 else 0 end)",
            "sum(case when status = 'Delivered' then 1 else 0 end)",
        ) }} as on_time_rate
{%- endmacro %}

{#- lost_rate and returned_rate, over every shipment. -#}
{% macro lost_and_returned_rates() -%}
        {{ ratio("sum(case when status = 'Lost' then 1 else 0 end)", 'count(*)') }} as lost_rate,
        {{ ratio("sum(case when status = 'Returned' then 1 else 0 end)", 'count(*)') }} as returned_rate
{%- endmacro %}
