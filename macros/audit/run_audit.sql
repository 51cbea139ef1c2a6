{#- The dbt half of the run audit (the extract half is brz_extract_batches):
    every dbt invocation records each node it ran (models, seeds, tests)
    into audit.dbt_node_runs, with the Airflow run and task that ran it
    (cosmos passes AIRFLOW_CTX_* to dbt). on-run-start makes the table,
    on-run-end fills it, failures included. -#}

{% macro run_audit_relation() -%}
    {#- dbt-spark's targets have no database -#}
    {{ return(api.Relation.create(database=(target.database if target.database is defined else none),
                                  schema='audit', identifier='dbt_node_runs')) }}
{%- endmacro %}

{% macro create_run_audit_table() -%}
    {%- if execute -%}
        {%- do adapter.create_schema(run_audit_relation()) -%}
        create table if not exists {{ run_audit_relation() }} (
            invocation_id {{ dbt.type_string() }},
            airflow_run_id {{ dbt.type_string() }},
            airflow_task_id {{ dbt.type_string() }},
            unique_id {{ dbt.type_string() }},
            resource_type {{ dbt.type_string() }},
            node_name {{ dbt.type_string() }},
            status {{ dbt.type_string() }},
            execution_seconds {{ type_double() }},
            rows_after {{ dbt.type_bigint() }},
            failures {{ dbt.type_bigint() }},
            message {{ dbt.type_string() }},
            recorded_at {{ dbt.type_timestamp() }}
        )
    {%- endif -%}
{%- endmacro %}

{% macro record_node_results(results) -%}
    {%- if execute and results -%}
        {%- set selects = [] -%}
        {%- for result in results -%}
            {%- set node = result.node -%}
            {%- set is_built = result.status == 'success'
                and node.resource_type in ('model', 'seed', 'snapshot') and node.relation_name -%}
            {%- set message = (result.message or '') | string -%}
            {%- do selects.append(
                "select '" ~ invocation_id ~ "', '"
                ~ env_var('AIRFLOW_CTX_DAG_RUN_ID', '') | replace("'", "''") ~ "', '"
                ~ env_var('AIRFLOW_CTX_TASK_ID', '') | replace("'", "''") ~ "', '"
                ~ node.unique_id ~ "', '" ~ node.resource_type ~ "', '" ~ node.name ~ "', '"
                ~ result.status ~ "', "
                ~ (result.execution_time or 0) ~ ", "
                ~ ("(select count(*) from " ~ node.relation_name ~ ")" if is_built else "null") ~ ", "
                ~ (result.failures if result.failures is not none else "null") ~ ", '"
                ~ message[:500] | replace("'", "''") ~ "', "
                ~ as_utc_timestamp(dbt.current_timestamp())
            ) -%}
        {%- endfor -%}
        insert into {{ run_audit_relation() }}
        {{ selects | join('\nunion all\n') }}
    {%- endif -%}
{%- endmacro %}
