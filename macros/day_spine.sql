{#- One row per day from start_date (included) to end_date (excluded), as
    `date_day`, for dates given as 'YYYY-MM-DD'. The day count is worked out
    here rather than asked of the warehouse (dbt.date_spine queries it), so
    models compile with no warehouse to connect to; at most 10,000 days. -#}
{% macro day_spine(start_date, end_date) -%}
    {%- set first_day = modules.datetime.date.fromisoformat(start_date) -%}
    {%- set day_count = (modules.datetime.date.fromisoformat(end_date) - first_day).days -%}
    {%- if day_count < 1 or day_count > 10000 -%}
        {{ exceptions.raise_compiler_error("day_spine: " ~ start_date ~ " to " ~ end_date ~ " must span 1 to 10,000 days") }}
    {%- endif -%}
    select
        {{ dbt.dateadd('day', 'offsets.day_offset', dbt.cast(dbt.string_literal(start_date), api.Column.translate_type('date'))) }} as date_day
    from (
        select ones.digit + 10 * tens.digit + 100 * hundreds.digit + 1000 * thousands.digit as day_offset
        from {{ digits() }} as ones
        cross join {{ digits() }} as tens
        cross join {{ digits() }} as hundreds
        cross join {{ digits() }} as thousands
    ) as offsets
    where offsets.day_offset < {{ day_count }}
{%- endmacro %}


{% macro digits() -%}
    (
        select 0 as digit union all select 1 union all select 2 union all select 3 union all select 4
        union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
    )
{%- endmacro %}
