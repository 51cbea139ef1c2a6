{#- A date part as a number. `isodow` is the ISO day of week, 1 = Monday. -#}
{% macro date_part_number(datepart, date_column) -%}
    {{ return(adapter.dispatch('date_part_number', 'logistics_warehouse')(datepart, date_column)) }}
{%- endmacro %}

{% macro default__date_part_number(datepart, date_column) -%}
    extract({{ datepart }} from {{ date_column }})
{%- endmacro %}

{% macro sqlserver__date_part_number(datepart, date_column) -%}
    {%- if datepart == 'isodow' -%}
        ((datepart(weekday, {{ date_column }}) + @@datefirst + 5) % 7 + 1)
    {%- else -%}
        datepart({{ datepart }}, {{ date_column }})
    {%- endif -%}
{%- endmacro %}

{% macro spark__date_part_number(datepart, date_column) -%}
    {%- if datepart == 'isodow' -%}
        extract(dayofweek_iso from {{ date_column }})
    {%- else -%}
        extract({{ datepart }} from {{ date_column }})
    {%- endif -%}
{%- endmacro %}
