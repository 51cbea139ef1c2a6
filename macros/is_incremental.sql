{#- dbt's is_incremental(), unless the var `render_incremental` (true or
    false) says which branch every incremental model renders: compiling
    without a warehouse to look at (tests/test_dialects.py compiles both
    branches for the sqlserver and spark targets). On the `lint` target
    sqlfluff lints the incremental branch, the SQL of the nightly runs. -#}
{% macro is_incremental() -%}
    {%- set forced = var('render_incremental', true if target.name == 'lint' else none) -%}
    {%- if forced is none -%}
        {{ return(dbt.is_incremental()) }}
    {%- else -%}
        {{ return(forced and model.config.materialized == 'incremental') }}
    {%- endif -%}
{%- endmacro %}
