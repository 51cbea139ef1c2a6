{#- How each target reads the lake, the one place that knows: one Delta table
    per source table under `<LAKE_ROOT>/bronze/<Table>` (its `_delta_log` the
    commits, the Parquet files beside it the data), each extract's manifest in
    its commit's `commitInfo.logistics_batch` (logistics_etl/lake/delta.py).

    - DuckDB (`dev`): the sources `lake.<Table>` and `lake_audit.batches` are
      served by the project's dbt-duckdb plugin (logistics_etl/lake/dbt_source.py,
      delta-rs); nothing to create here.
    - Spark (`spark`, no Delta jars here): views over the Parquet files of each
      table's current snapshot, the files added by a commit of its log and not
      removed by a later one (the log's JSON commits are kept:
      `delta.enableExpiredLogCleanup` is off).
    - Databricks: external Delta tables over the same folders (LAKE_ROOT in
      the `abfss://<container>@<account>.dfs.core.windows.net/<path>` form).
    Spark and Databricks read the audit from the commits' JSON. -#}

{#- What a bronze model reads: `source('lake', table_name)`, on an incremental
    run only the batches newer than the newest one loaded. The newest loaded
    batch is asked of the model first and written into the filter as a
    number: DuckDB pushes a constant filter down to delta-rs's dataset, which
    then opens only the files whose `_batch_id` statistics can hold newer
    batches (a filter on a subquery would reach no file list and open all).
    Elsewhere (and where dbt only renders the incremental branch: lint, the
    dialect checks) the filter is the subquery. -#}
{% macro lake_batches(table_name) -%}
    {%- set lake = source('lake', table_name) -%}
    {%- if execute and target.type == 'duckdb' and dbt.is_incremental() -%}
        {%- set loaded = run_query('select coalesce(max(batch_id), 0) from ' ~ this).columns[0].values()[0] -%}
        {{- return('(select * from ' ~ lake ~ ' where _batch_id > ' ~ loaded ~ ')') -}}
    {%- elif is_incremental() -%}
        {{- return('(select * from ' ~ lake ~ ' where _batch_id > (select coalesce(max(batch_id), 0) from '
                   ~ this ~ '))') -}}
    {%- endif -%}
    {{- return('(select * from ' ~ lake ~ ')') -}}
{%- endmacro %}

{#- The extract audit's read of the commits: on an incremental run only the
    batches not in the model yet (by table and batch id). -#}
{% macro new_commits() -%}
    {%- set commits = source('lake_audit', 'batches') -%}
    {%- if not is_incremental() -%}
        {{- return(commits) -}}
    {%- endif -%}
    {{- return(
        '(select * from ' ~ commits ~ ' as batch where not exists (select 1 from ' ~ this ~ ' as read_before '
        ~ 'where read_before.source_table = batch.' ~ adapter.quote('table')
        ~ ' and read_before.batch_id = batch.batch_id))'
    ) -}}
{%- endmacro %}

{#- When a lake table last landed, for `dbt source freshness` (the lake
    source's `loaded_at_query`): when the newest batch's extract started, from
    the audit (no data file is opened). The audit relation is named, not resolved
    with source(): on DuckDB, resolving a plugin source re-creates its view,
    and nine freshness checks doing that at once conflict; the on-run-start
    hook has created it for this invocation (create_lake_views). -#}
{% macro lake_extracted_at(table_name) -%}
    {%- set of_table = 'batch.' ~ adapter.quote('table') ~ " = '" ~ table_name ~ "'" -%}
    {{- return('select max(' ~ as_utc_timestamp('batch.extracted_at') ~ ') from lake_audit.batches as batch '
               ~ 'where ' ~ of_table ~ ' and batch.batch_id = (select max(batch.batch_id) from '
               ~ 'lake_audit.batches as batch where ' ~ of_table ~ ')') -}}
{%- endmacro %}

{#- A lake table's folder, written into string literals and quoted names:
    a LAKE_ROOT holding a character no dialect's quoting shares is refused,
    never pasted into SQL (logistics_etl/settings.py refuses it first). -#}
{% macro lake_table_path(table_name) -%}
    {%- set root = env_var('LAKE_ROOT', 'data/lake') -%}
    {%- for bad in ["'", '"', '`', '\\', '\n', '\r', ';'] if bad in root -%}
        {{- exceptions.raise_compiler_error(
            'LAKE_ROOT ' ~ (root | tojson) ~ ' holds ' ~ (bad | tojson)
            ~ ', which the lake\'s SQL cannot quote on every target; use a path without it') -}}
    {%- endfor -%}
    {{- return(root ~ '/bronze/' ~ table_name) -}}
{%- endmacro %}

{#- The on-run-start hook: the lake's relations where the target cannot read
    Delta through a plugin (`lake_statements`, run in order). -#}
{% macro create_lake_views() -%}
    {%- if execute -%}
        {%- for statement in lake_statements() -%}
            {%- do run_query(statement) -%}
        {%- endfor -%}
        {%- do resolve_lake_sources() -%}
    {%- endif -%}
{%- endmacro %}

{#- The statements that create the lake's relations on the target, as a list
    (the dialect test parses them: tests/test_dialects.py). -#}
{% macro lake_statements() -%}
    {{- return(adapter.dispatch('lake_statements', 'logistics_warehouse')()) -}}
{%- endmacro %}

{% macro default__lake_statements() -%}
    {{- return([]) -}}
{%- endmacro %}

{% macro spark__lake_statements() -%}
    {%- set statements = ['create schema if not exists lake'] -%}
    {%- for source_node in graph.sources.values() if source_node.source_name == 'lake' -%}
        {%- set log = 'text.`' ~ lake_table_path(source_node.name) ~ '/_delta_log/*.json`' -%}
        {%- do statements.append(
            "create or replace view lake.`" ~ source_node.name ~ "` as\n"
            ~ "select parts.* from parquet.`" ~ lake_table_path(source_node.name) ~ "/*.parquet` as parts\n"
            ~ "where parts._metadata.file_name in (\n"
            ~ "    select get_json_object(entry.value, '$.add.path') from " ~ log ~ " as entry\n"
            ~ "    where get_json_object(entry.value, '$.add.path') is not null\n"
            ~ "    except\n"
            ~ "    select get_json_object(entry.value, '$.remove.path') from " ~ log ~ " as entry\n"
            ~ "    where get_json_object(entry.value, '$.remove.path') is not null\n"
            ~ ")"
        ) -%}
    {%- endfor -%}
    {{- return(statements + lake_audit_statements()) -}}
{%- endmacro %}

{% macro databricks__lake_statements() -%}
    {%- set statements = ['create schema if not exists lake'] -%}
    {%- for source_node in graph.sources.values() if source_node.source_name == 'lake' -%}
        {%- do statements.append(
            "create table if not exists lake.`" ~ source_node.name ~ "` using delta location '"
            ~ lake_table_path(source_node.name) | replace("'", "\\'") ~ "'"
        ) -%}
    {%- endfor -%}
    {{- return(statements + lake_audit_statements()) -}}
{%- endmacro %}

{#- `lake_audit.batches` on Spark and Databricks: each extract's manifest, read
    from the JSON commits of every table's log, with the commit's version. -#}
{% macro lake_audit_statements() -%}
    {{- return([
        'create schema if not exists lake_audit',
        "create or replace view lake_audit.batches as\n"
        ~ "select manifest.*, cast(regexp_extract(entry._metadata.file_name, '^0*([0-9]+)[.]json$', 1) as bigint) as version\n"
        ~ "from text.`" ~ lake_table_path('*') ~ "/_delta_log/*.json` as entry\n"
        ~ "lateral view inline(array(from_json(get_json_object(entry.value, '$.commitInfo.logistics_batch'), '"
        ~ "`table` string, batch_id bigint, mode string, rows bigint, deleted_rows bigint, "
        ~ "files array<struct<name: string, rows: bigint, bytes: bigint>>, seconds double, key_count bigint, "
        ~ "watermark_column string, watermark_from string, watermark_to string, extracted_at string, "
        ~ "committed_at string, run_id string'))) manifest\n"
        ~ "where get_json_object(entry.value, '$.commitInfo.logistics_batch') is not null"
    ]) -}}
{%- endmacro %}

{#- DuckDB: every lake source resolved once, in this on-run-start hook, before
    the models' threads start. dbt-duckdb loads a plugin source each time a
    model resolves it and keeps its Arrow dataset in a dict that each new
    cursor iterates; two threads adding their first source at once fail with
    "dictionary changed size during iteration". Resolved here first, a
    model's later load replaces an entry and never adds one. -#}
{% macro resolve_lake_sources() -%}
    {%- if target.type == 'duckdb' -%}
        {%- for source_node in graph.sources.values() if source_node.source_name in ['lake', 'lake_audit'] -%}
            {%- do source(source_node.source_name, source_node.name) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
