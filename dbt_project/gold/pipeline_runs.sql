with

node_runs as (

    select * from {{ source('warehouse_audit', 'dbt_node_runs') }}

),

extract_batches as (

    select * from {{ ref('brz_extract_batches') }}

),

flagged_node_runs as (

    select
        node_runs.invocation_id,
        node_runs.recorded_at,
        node_runs.execution_seconds,
        coalesce(nullif(node_runs.airflow_run_id, ''), node_runs.invocation_id) as run_key,
        {{ as_flag(
            "node_runs.resource_type in ('model', 'seed') and node_runs.status = 'success'"
        ) }} as is_model_built,
        {{ as_flag("node_runs.resource_type in ('model', 'seed') and node_runs.status = 'error'") }} as is_model_failed,
        {{ as_flag("node_runs.resource_type = 'test' and node_runs.status = 'pass'") }} as is_test_passed,
        {{ as_flag("node_runs.resource_type = 'test' and node_runs.status in ('fail', 'error')") }} as is_test_failed,
        {{ as_flag("node_runs.resource_type = 'test' and node_runs.status = 'warn'") }} as is_test_warned

    from node_runs

),

dbt_per_run as (

    select
        flagged_node_runs.run_key,
        max(flagged_node_runs.recorded_at) as dbt_last_recorded_at,
        count(distinct flagged_node_runs.invocation_id) as dbt_invocations,
        sum(case when {{ flag_is_true('flagged_node_runs.is_model_built') }} then 1 else 0 end) as models_built,
        sum(case when {{ flag_is_true('flagged_node_runs.is_model_failed') }} then 1 else 0 end) as models_failed,
        sum(case when {{ flag_is_true('flagged_node_runs.is_test_passed') }} then 1 else 0 end) as tests_passed,
        sum(case when {{ flag_is_true('flagged_node_runs.is_test_failed') }} then 1 else 0 end) as tests_failed,
        sum(case when {{ flag_is_true('flagged_node_runs.is_test_warned') }} then 1 else 0 end) as tests_warned,
        sum(flagged_node_runs.execution_seconds) as dbt_seconds

    from flagged_node_runs
    group by flagged_node_runs.run_key

),

extract_per_run as (

    select
        extract_batches.airflow_run_id as run_key,
        min(extract_batches.extracted_at) as extract_started_at,
        count(*) as tables_extracted,
        sum(extract_batches.rows_landed) as rows_extracted,
        sum(extract_batches.rows_deleted) as rows_deleted,
        sum(extract_batches.bytes_written) as bytes_extracted,
        sum(extract_batches.extract_seconds) as extract_seconds

    from extract_batches
    where extract_batches.airflow_run_id <> ''
    group by extract_batches.airflow_run_id

),

run_keys as (

    select dbt_per_run.run_key from dbt_per_run
    union
    select extract_per_run.run_key from extract_per_run

),

final as (

    select
        run_keys.run_key,
        extract_per_run.extract_started_at,
        dbt_per_run.dbt_last_recorded_at,
        cast(coalesce(extract_per_run.tables_extracted, 0) as {{ dbt.type_bigint() }}) as tables_extracted,
        cast(coalesce(extract_per_run.rows_extracted, 0) as {{ dbt.type_bigint() }}) as rows_extracted,
        cast(coalesce(extract_per_run.rows_deleted, 0) as {{ dbt.type_bigint() }}) as rows_deleted,
        cast(coalesce(extract_per_run.bytes_extracted, 0) as {{ dbt.type_bigint() }}) as bytes_extracted,
        cast(coalesce(extract_per_run.extract_seconds, 0) as {{ type_double() }}) as extract_seconds,
        cast(coalesce(dbt_per_run.dbt_invocations, 0) as {{ dbt.type_bigint() }}) as dbt_invocations,
        cast(coalesce(dbt_per_run.models_built, 0) as {{ dbt.type_bigint() }}) as models_built,
        cast(coalesce(dbt_per_run.models_failed, 0) as {{ dbt.type_bigint() }}) as models_failed,
        cast(coalesce(dbt_per_run.tests_passed, 0) as {{ dbt.type_bigint() }}) as tests_passed,
        cast(coalesce(dbt_per_run.tests_failed, 0) as {{ dbt.type_bigint() }}) as tests_failed,
        cast(coalesce(dbt_per_run.tests_warned, 0) as {{ dbt.type_bigint() }}) as tests_warned,
        cast(coalesce(dbt_per_run.dbt_seconds, 0) as {{ type_double() }}) as dbt_seconds,
        {{ as_flag(
            "coalesce(dbt_per_run.models_failed, 0) + coalesce(dbt_per_run.tests_failed, 0) > 0"
        ) }} as has_failures

    from run_keys
    left join dbt_per_run on run_keys.run_key = dbt_per_run.run_key
    left join extract_per_run on run_keys.run_key = extract_per_run.run_key

)

select * from final
