{#- Booleans on every target. SQL Server has no boolean type: flags are
    `bit` columns, a predicate is never a value and a flag is never a
    predicate. Models write flags through these three macros. -#}

{#- The predicate "flag is true", for a boolean (bit) column. -#}
{% macro flag_is_true(column) -%}
    {{ return(adapter.dispatch('flag_is_true', 'logistics_warehouse')(column)) }}
{%- endmacro %}

{% macro default__flag_is_true(column) -%}
    {{ column }}
{%- endmacro %}

{% macro sqlserver__flag_is_true(column) -%}
    {{ column }} = 1
{%- endmacro %}


{#- A predicate as a boolean value (a column of the result). -#}
{% macro as_flag(predicate) -%}
    {{ return(adapter.dispatch('as_flag', 'logistics_warehouse')(predicate)) }}
{%- endmacro %}

{% macro default__as_flag(predicate) -%}
    ({{ predicate }})
{%- endmacro %}

{% macro sqlserver__as_flag(predicate) -%}
    cast(case when {{ predicate }} then 1 else 0 end as bit)
{%- endmacro %}


{#- The literal true or false. -#}
{% macro flag_literal(value) -%}
    {{ return(adapter.dispatch('flag_literal', 'logistics_warehouse')(value)) }}
{%- endmacro %}

{% macro default__flag_literal(value) -%}
    {{ 'true' if value else 'false' }}
{%- endmacro %}

{% macro sqlserver__flag_literal(value) -%}
    cast({{ 1 if value else 0 }} as bit)
{%- endmacro %}
