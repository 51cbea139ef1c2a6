{#- The local `spark` target (dbt-spark in an in-process Spark session) keeps
    Parquet tables: Delta's jars cannot be installed on these machines. Parquet
    tables cannot merge, delete or snapshot, so on that target the project
    builds from scratch only (a new SPARK_DATA_DIR, or `--full-refresh` for the
    models): every incremental model and snapshot is then a plain
    create-table-as, the SQL that dbt-databricks also runs on a first build.
    An incremental run into an existing Parquet table stops with a clear error
    instead of appending duplicates. Databricks (Delta) is not affected: its
    adapter has its own materializations. -#}

{% macro parquet_cannot_merge_error(relation) -%}
    {{ return(relation ~ " is a Parquet table on the local `spark` target, which cannot merge, delete or "
        ~ "snapshot. Build the project from scratch there (a new SPARK_DATA_DIR, or --full-refresh for the "
        ~ "models); Databricks merges into Delta.") }}
{%- endmacro %}

{#- dbt-spark's own check, which refuses `merge` on Parquet even for a first
    build; here a first build (or a full refresh) is allowed, since it is a
    create-table-as, and an incremental run fails with the reason. -#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {%- if raw_strategy == 'merge' and file_format not in ['delta', 'iceberg', 'hudi'] -%}
        {%- if load_relation(this) is not none and not should_full_refresh() -%}
            {%- do exceptions.raise_compiler_error(parquet_cannot_merge_error(this)) -%}
        {%- endif -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{%- endmacro %}

{#- A snapshot's first build: its table with the first version of every row.
    It replaces dbt-spark's snapshot materialization for every spark target:
    one with Delta tables would snapshot from scratch only, too. -#}
{% materialization snapshot, adapter='spark' %}
    {%- set target_relation = api.Relation.create(schema=model.schema, identifier=model.alias, type='table') -%}
    {%- if load_relation(target_relation) is not none -%}
        {%- do exceptions.raise_compiler_error(parquet_cannot_merge_error(target_relation)) -%}
    {%- endif -%}
    {%- if not adapter.check_schema_exists(model.database, model.schema) -%}
        {%- do create_schema(target_relation) -%}
    {%- endif -%}
    {{ run_hooks(pre_hooks) }}
    {%- set strategy = strategy_dispatch(config.get('strategy'))(model, "snapshotted_data", "source_data",
                                                                   model['config'], false) -%}
    {% call statement('main') -%}
        {{ create_table_as(false, target_relation, build_snapshot_table(strategy, model['compiled_code'])) }}
    {%- endcall %}
    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- A Parquet table takes no NOT NULL constraint (dbt-spark would alter the
    column and fail): on the local spark target the contract's types are
    enforced and its not_null constraints are not, which dbt says as a warning. -#}
{% macro spark__alter_column_set_constraints(relation, column_dict) -%}
    {%- if config.get('file_format', 'parquet') in ['delta', 'iceberg', 'hudi'] -%}
        {{ return(dbt.spark__alter_column_set_constraints(relation, column_dict)) }}
    {%- endif -%}
    {%- do exceptions.warn(relation ~ ": not_null constraints are not enforced on a Parquet table") -%}
{%- endmacro %}
