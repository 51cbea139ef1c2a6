with

node_runs as (

    select * from {{ source('warehouse_audit', 'dbt_node_runs') }}

),

model_runs as (

    select
        node_runs.node_name as model_name,
        node_runs.resource_type,
        node_runs.status,
        node_runs.execution_seconds,
        node_runs.rows_after,
        node_runs.recorded_at,
        coalesce(nullif(node_runs.airflow_run_id, ''), node_runs.invocation_id) as run_key

    from node_runs
    where node_runs.resource_type in ('model', 'seed', 'snapshot')

),

final as (

    select
        model_runs.run_key,
        model_runs.model_name,
        model_runs.resource_type,
        model_runs.status,
        model_runs.execution_seconds,
        model_runs.rows_after,
        model_runs.recorded_at,
        model_runs.rows_after - lag(model_runs.rows_after) over (
            partition by model_runs.model_name order by model_runs.recorded_at
        ) as rows_change,
        cast(rank() over (
            partition by model_runs.run_key order by model_runs.execution_seconds desc
        ) as {{ dbt.type_bigint() }}) as slowest_rank

    from model_runs

)

select * from final
