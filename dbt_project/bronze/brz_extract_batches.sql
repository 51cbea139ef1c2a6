with

source as (

    select * from {{ new_commits() }} as commits

),

renamed as (

    select
        cast(source.table as {{ dbt.type_string() }}) as source_table,
        cast(source.batch_id as {{ dbt.type_bigint() }}) as batch_id,
        cast(source.mode as {{ dbt.type_string() }}) as load_mode,
        cast(source.rows as {{ dbt.type_bigint() }}) as rows_landed,
        cast(source.deleted_rows as {{ dbt.type_bigint() }}) as rows_deleted,
        {{ manifest_file_bytes('source.files') }} as bytes_written,
        cast(source.seconds as {{ type_double() }}) as extract_seconds,
        cast(source.key_count as {{ dbt.type_bigint() }}) as source_key_count,
        cast(source.watermark_column as {{ dbt.type_string() }}) as watermark_column,
        cast(source.watermark_from as {{ dbt.type_string() }}) as watermark_from,
        cast(source.watermark_to as {{ dbt.type_string() }}) as watermark_to,
        {{ as_utc_timestamp('source.extracted_at') }} as extracted_at,
        {{ as_utc_timestamp('source.committed_at') }} as committed_at,
        cast(source.run_id as {{ dbt.type_string() }}) as airflow_run_id,
        cast(source.version as {{ dbt.type_bigint() }}) as table_version

    from source

)

select * from renamed
