{#- A UTC instant as a plain (time-zone-less) timestamp in UTC, so that dates
    and hours never depend on the session's time zone. -#}
{% macro as_utc_timestamp(column) -%}
    {{ return(adapter.dispatch('as_utc_timestamp', 'logistics_warehouse')(column)) }}
{%- endmacro %}

{% macro default__as_utc_timestamp(column) -%}
    cast({{ column }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__as_utc_timestamp(column) -%}
    timezone('UTC', {{ column }})
{%- endmacro %}
