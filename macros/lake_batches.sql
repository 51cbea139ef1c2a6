{#- What a bronze model reads from the lake: `source('lake', table_name)`,
    on an incremental run only the batches newer than the newest one loaded.

    On DuckDB's incremental runs the source's part files are narrowed to the
    new batches' before DuckDB sees them. The source reads with
    `union_by_name` (a later batch may carry a new column), which makes DuckDB
    open every file of the glob before any filter applies: after a year of
    nights on Azure, 365 files a table on every build, each a few requests.
    Here the manifests are listed (`glob`, one listing) and the source's glob
    is replaced by the parts of the committed batches newer than the newest
    one loaded; with none new, by the newest batch, which the filter leaves
    empty (read_parquet needs a file). Elsewhere: the source, filtered by
    new_batches_only(). -#}
{% macro lake_batches(table_name) -%}
    {%- set lake = source('lake', table_name) -%}
    {%- if execute and target.type == 'duckdb' and dbt.is_incremental() -%}
        {%- set loaded = run_query('select coalesce(max(batch_id), 0) from ' ~ this).columns[0].values()[0] -%}
        {%- set committed = listed_batches(table_name) -%}
        {%- if committed -%}
            {%- set parts = [] -%}
            {%- for batch_id in committed | select('>', loaded) | list or committed[-1:] -%}
                {%- do parts.append(batch_folder(table_name, batch_id) ~ '/part-*.parquet') -%}
            {%- endfor -%}
            {%- set lake = with_lake_files(lake, lake_parts(table_name), parts) -%}
        {%- endif -%}
        {{- return('(select * from ' ~ lake ~ ' where _batch_id > ' ~ loaded ~ ')') -}}
    {%- endif -%}
    {{- return('(select * from ' ~ lake ~ new_batches_only() ~ ')') -}}
{%- endmacro %}

{#- The extract audit's read of the batch manifests: `source('lake_audit',
    'manifests')`, on an incremental run only the manifests of batches not in
    the model yet (by table and batch id, so that a lake root spelled another
    way reads nothing twice). On DuckDB the source's glob is replaced by the
    new manifests' names (one listing, then a read of each new manifest, not of
    one per batch of every table: a year of nights is 3,285 manifests); with
    none new, by the last one listed (a newest batch), which the filter
    leaves out. -#}
{% macro new_manifests() -%}
    {%- set manifests = source('lake_audit', 'manifests') -%}
    {%- if not is_incremental() -%}
        {{- return(manifests) -}}
    {%- endif -%}
    {%- set pattern = lake_manifests('*') -%}
    {%- if execute and target.type == 'duckdb' and dbt.is_incremental() -%}
        {%- set listed = run_query(
            "select file, exists (select 1 from " ~ this ~ " as read_before "
            ~ "where read_before.source_table = regexp_extract(file, '([^/]+)/batch=[0-9]+/_manifest[.]json$', 1) "
            ~ "and read_before.batch_id = cast(regexp_extract(file, 'batch=([0-9]+)/', 1) as bigint)) as is_read "
            ~ "from glob('" ~ pattern ~ "') order by 1"
        ) -%}
        {%- set new = [] -%}
        {%- for row in listed.rows if not row[1] -%}
            {%- do new.append(row[0]) -%}
        {%- endfor -%}
        {%- if listed.rows -%}
            {%- set manifests = with_lake_files(manifests, pattern, new or [listed.rows[-1][0]]) -%}
        {%- endif -%}
    {%- endif -%}
    {{- return(
        '(select * from ' ~ manifests ~ ' as manifest where not exists (select 1 from ' ~ this ~ ' as read_before '
        ~ 'where read_before.source_table = manifest.' ~ adapter.quote('table')
        ~ ' and read_before.batch_id = manifest.batch_id))'
    ) -}}
{%- endmacro %}

{#- The lake's layout (logistics_etl/lake/batches.py), the one place dbt
    spells it; the lake sources' `external_location` in _bronze.yml repeats
    it (source YAML cannot call a macro), and `with_lake_files` fails when the
    two differ. A lake table's folder (`*` for every table's), one batch's
    folder in it, and the globs of a table's part files and manifests. -#}
{% macro lake_folder(table_name) -%}
    {{- return(env_var('LAKE_ROOT', 'data/lake') ~ '/bronze/' ~ table_name) -}}
{%- endmacro %}

{% macro batch_folder(table_name, batch_id) -%}
    {{- return(lake_folder(table_name) ~ '/batch=' ~ '%06d' % batch_id) -}}
{%- endmacro %}

{% macro lake_parts(table_name) -%}
    {{- return(lake_folder(table_name) ~ '/batch=*/part-*.parquet') -}}
{%- endmacro %}

{% macro lake_manifests(table_name) -%}
    {{- return(lake_folder(table_name) ~ '/batch=*/_manifest.json') -}}
{%- endmacro %}

{#- Batch ids of a lake table's committed batches (the folders holding a
    `_manifest.json`), in order: one listing of the folder, no file read. -#}
{% macro listed_batches(table_name) -%}
    {{- return(run_query(
        "select distinct cast(regexp_extract(file, 'batch=([0-9]+)/', 1) as bigint) "
        ~ "from glob('" ~ lake_manifests(table_name) ~ "') order by 1"
    ).columns[0].values() | list) -}}
{%- endmacro %}

{#- A lake source's SQL with its file glob replaced by a list of files (or
    globs): the source's own reader and options, on fewer files. -#}
{% macro with_lake_files(relation, pattern, files) -%}
    {%- set sql = relation | string -%}
    {%- set glob = "'" ~ pattern ~ "'" -%}
    {%- if glob not in sql -%}
        {{- exceptions.raise_compiler_error(
            "with_lake_files: " ~ glob ~ " is not in the lake source's external_location (" ~ sql
            ~ "): keep the source's glob and the macros in macros/lake_batches.sql alike") -}}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for file in files -%}
        {%- do quoted.append("'" ~ file | replace("'", "''") ~ "'") -%}
    {%- endfor -%}
    {{- return(sql.replace(glob, '[' ~ quoted | join(', ') ~ ']')) -}}
{%- endmacro %}

{#- When a lake table last landed, for `dbt source freshness` (the lake
    source's `loaded_at_query`). On DuckDB the table's manifests are listed
    and only the newest committed batch's manifest is read: its
    `extracted_at` is the `_extracted_at` of every row of that batch. A max
    over the source would open every part file of every night (365 a table
    after a year, each a few requests on Azure). Elsewhere, and for a table
    with no committed batch yet: the max over the source. -#}
{% macro lake_extracted_at(table_name) -%}
    {%- if execute and target.type == 'duckdb' -%}
        {%- set committed = listed_batches(table_name) -%}
        {%- if committed -%}
            {%- set manifest = with_lake_files(source('lake_audit', 'manifests'),
                lake_manifests('*'),
                [batch_folder(table_name, committed[-1]) ~ '/_manifest.json']) -%}
            {{- return('select max(extracted_at) from ' ~ manifest ~ ' as newest_manifest') -}}
        {%- endif -%}
    {%- endif -%}
    {{- return('select max(_extracted_at) from ' ~ source('lake', table_name) ~ ' as lake_table') -}}
{%- endmacro %}


{#- dbt-spark reads the lake through views that this on-run-start hook
    (re)creates: `lake.<Table>` over the committed batches of each table, and
    `lake_audit.manifests` over the batch manifests, the same relations that
    dbt-duckdb reads through the sources' `external_location`. A batch is read
    only once its `_manifest.json` exists (the manifest is the commit); the
    manifests are listed, not read (`binaryFile` reads no content when the
    query takes only the path). -#}
{% macro create_lake_views() -%}
    {%- if execute and target.type == 'spark' -%}
        {%- do run_query('create schema if not exists lake') -%}
        {%- do run_query('create schema if not exists lake_audit') -%}
        {%- for source_node in graph.sources.values() if source_node.source_name == 'lake' -%}
            {%- do run_query(
                "create or replace view lake.`" ~ source_node.name ~ "` as\n"
                ~ "select parts.*, parts._metadata.file_path as filename\n"
                ~ "from parquet.`" ~ lake_parts(source_node.name) ~ "` as parts\n"
                ~ "where regexp_extract(parts._metadata.file_path, 'batch=([0-9]+)/', 1) in (\n"
                ~ "    select regexp_extract(manifest.path, 'batch=([0-9]+)/', 1)\n"
                ~ "    from binaryFile.`" ~ lake_manifests(source_node.name) ~ "` as manifest\n"
                ~ ")"
            ) -%}
        {%- endfor -%}
        {%- do run_query(
            "create or replace view lake_audit.manifests as\n"
            ~ "select manifest.*, manifest_file.path as filename\n"
            ~ "from binaryFile.`" ~ lake_manifests('*') ~ "` as manifest_file\n"
            ~ "lateral view inline(array(from_json(cast(manifest_file.content as string), '"
            ~ "`table` string, batch_id bigint, mode string, rows bigint, deleted_rows bigint, "
            ~ "files array<struct<name: string, rows: bigint, bytes: bigint>>, seconds double, key_count bigint, "
            ~ "watermark_column string, watermark_from string, watermark_to string, extracted_at string, "
            ~ "committed_at string, run_id string'))) manifest"
        ) -%}
    {%- endif -%}
{%- endmacro %}
