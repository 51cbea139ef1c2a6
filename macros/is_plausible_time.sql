{#- A time a row of LogisticsDB can hold: null, or from 1990 up to 2100. A
    year 1 or 9999 (a default or a typo) is quarantined in silver
    (implausible_timestamp) instead of reaching gold as a transit of 70
    million hours. -#}
{% macro is_plausible_time(column) -%}
    ({{ column }} is null or ({{ column }} >= cast('1990-01-01 00:00:00' as {{ dbt.type_timestamp() }})
        and {{ column }} < cast('2100-01-01 00:00:00' as {{ dbt.type_timestamp() }})))
{%- endmacro %}
