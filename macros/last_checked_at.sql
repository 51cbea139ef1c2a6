{#- The newest silver `checked_at` an incremental gold model has taken in
    (the beginning of time when it is empty). -#}
{% macro last_checked_at() -%}
    select coalesce(max(seen.checked_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }} as seen
{%- endmacro %}
