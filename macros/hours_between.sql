{#- Hours from one timestamp to another, with fractions (null when either is null). -#}
{% macro hours_between(start_column, end_column) -%}
    cast({{ dbt.datediff(start_column, end_column, 'second') }} as {{ type_double() }}) / 3600
{%- endmacro %}
