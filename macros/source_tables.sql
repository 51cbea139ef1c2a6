{#- The source tables as dbt knows them: the `source_tables` project variable
    (dbt_project.yml), one entry per table of logistics_etl/contract.py with
    `table` (the source name), `name` (the suffix of its models), `key` and
    `append_only`. Quarantine and reconciliation loop over it. -#}
{% macro source_tables() -%}
    {{- return(var('source_tables')) -}}
{%- endmacro %}

{% macro source_table(name) -%}
    {%- for table in source_tables() if table.name == name -%}
        {{- return(table) -}}
    {%- endfor -%}
    {{- exceptions.raise_compiler_error(
        "source table '" ~ name ~ "' is not in the project variable source_tables (dbt_project.yml)") -}}
{%- endmacro %}


{#- The load metadata every bronze model carries, from the extract's columns
    (`_is_deleted`, `_batch_id`, `_extracted_at`) and the time of the load:
    bronze column name -> expression. -#}
{% macro load_metadata() -%}
    {{- return({
        'is_deleted': '_is_deleted',
        'batch_id': '_batch_id',
        'extracted_at': as_utc_timestamp('_extracted_at'),
        'loaded_at': as_utc_timestamp(dbt.current_timestamp()),
    }) -}}
{%- endmacro %}

{% macro load_metadata_columns() -%}
    {%- for column, expression in load_metadata().items() %}
        {{ expression }} as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- The landed columns of a source table: the columns its bronze model's YAML
    describes, in order, without the load metadata. The one list silver takes
    its columns from: a column added to the bronze model and its YAML reaches
    silver with no other change. Empty while dbt parses (the graph is not
    built yet); a bronze model without YAML columns is an error. A unit test
    has no graph either: it overrides this macro with the list. -#}
{% macro landed_columns(name) -%}
    {%- if not execute -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- if 'nodes' not in graph -%}
        {{- exceptions.raise_compiler_error(
            "landed_columns('" ~ name ~ "'): no graph to read the YAML columns from (in a unit test, "
            ~ "give them under overrides: macros: landed_columns)") -}}
    {%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.brz_' ~ name) -%}
    {%- if not node or not node.columns -%}
        {{- exceptions.raise_compiler_error(
            "brz_" ~ name ~ " has no columns in its YAML (dbt_project/bronze/_bronze.yml): "
            ~ "silver takes its column list from there") -}}
    {%- endif -%}
    {%- set metadata = load_metadata() -%}
    {{- return(node.columns.keys() | reject('in', metadata) | list) -}}
{%- endmacro %}
