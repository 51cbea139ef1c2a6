{#- Total bytes of the data files a batch manifest lists (`files`: a list of
    {name, rows, bytes}), as a bigint. -#}
{% macro manifest_file_bytes(files_column) -%}
    {{ return(adapter.dispatch('manifest_file_bytes', 'logistics_warehouse')(files_column)) }}
{%- endmacro %}

{#- DuckDB reads the manifest's `files` as a list of structs. -#}
{% macro default__manifest_file_bytes(files_column) -%}
    cast(list_sum(list_transform({{ files_column }}, lambda f: f.bytes)) as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- Spark SQL (Databricks): an array of structs, summed with a higher-order function. -#}
{% macro spark__manifest_file_bytes(files_column) -%}
    cast(aggregate({{ files_column }}, 0L, (total, f) -> total + f.bytes) as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro databricks__manifest_file_bytes(files_column) -%}
    {{ spark__manifest_file_bytes(files_column) }}
{%- endmacro %}

{#- SQL Server: the manifest lands as JSON text, read with OPENJSON. -#}
{% macro sqlserver__manifest_file_bytes(files_column) -%}
    (
        select cast(sum(cast(json_value(listed_file.value, '$.bytes') as bigint)) as {{ dbt.type_bigint() }})
        from openjson({{ files_column }}) as listed_file
    )
{%- endmacro %}
