{#- An 8-byte floating-point type (`dbt.type_float()` is 4 bytes on some adapters). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'logistics_warehouse')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double
{%- endmacro %}

{% macro sqlserver__type_double() -%}
    float
{%- endmacro %}
