{#- Total bytes of the data files a batch manifest lists (`files`: a list of
    {name, rows, bytes}), as a bigint. -#}
{% macro manifest_file_bytes(files_column) -%}
    {{ return(adapter.dispatch('manifest_file_bytes', 'logistics_warehouse')(files_column)) }}
{%- endmacro %}

{% macro default__manifest_file_bytes(files_column) -%}
    cast(list_sum(list_transform({{ files_column }}, lambda f: f.bytes)) as {{ dbt.type_bigint() }})
{%- endmacro %}
