{#- dbt-spark reads the lake through views that this on-run-start hook
    (re)creates: `lake.<Table>` over the committed batches of each table, and
    `lake_audit.manifests` over the batch manifests, the same relations that
    dbt-duckdb reads through the sources' `external_location`. A batch is read
    only once its `_manifest.json` exists (the manifest is the commit); the
    manifests are listed, not read (`binaryFile` reads no content when the
    query takes only the path). -#}
{% macro create_lake_views() -%}
    {%- if execute and target.type == 'spark' -%}
        {%- set root = env_var('LAKE_ROOT', 'data/lake') -%}
        {%- do run_query('create schema if not exists lake') -%}
        {%- do run_query('create schema if not exists lake_audit') -%}
        {%- for source_node in graph.sources.values() if source_node.source_name == 'lake' -%}
            {%- set folder = root ~ '/bronze/' ~ source_node.name -%}
            {%- do run_query(
                "create or replace view lake.`" ~ source_node.name ~ "` as\n"
                ~ "select parts.*, parts._metadata.file_path as filename\n"
                ~ "from parquet.`" ~ folder ~ "/batch=*/part-*.parquet` as parts\n"
                ~ "where regexp_extract(parts._metadata.file_path, 'batch=([0-9]+)/', 1) in (\n"
                ~ "    select regexp_extract(manifest.path, 'batch=([0-9]+)/', 1)\n"
                ~ "    from binaryFile.`" ~ folder ~ "/batch=*/_manifest.json` as manifest\n"
                ~ ")"
            ) -%}
        {%- endfor -%}
        {%- do run_query(
            "create or replace view lake_audit.manifests as\n"
            ~ "select manifest.*, manifest_file.path as filename\n"
            ~ "from binaryFile.`" ~ root ~ "/bronze/*/batch=*/_manifest.json` as manifest_file\n"
            ~ "lateral view inline(array(from_json(cast(manifest_file.content as string), '"
            ~ "`table` string, batch_id bigint, mode string, rows bigint, deleted_rows bigint, "
            ~ "files array<struct<name: string, rows: bigint, bytes: bigint>>, seconds double, key_count bigint, "
            ~ "watermark_column string, watermark_from string, watermark_to string, extracted_at string, "
            ~ "committed_at string, run_id string'))) manifest"
        ) -%}
    {%- endif -%}
{%- endmacro %}
