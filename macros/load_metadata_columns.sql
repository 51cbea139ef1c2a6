{#- The load metadata every bronze model carries, from the extract's columns
    (`_is_deleted`, `_batch_id`, `_extracted_at`) and the file it was read from. -#}
{% macro load_metadata_columns() -%}
        _is_deleted as is_deleted,
        _batch_id as batch_id,
        {{ as_utc_timestamp('_extracted_at') }} as extracted_at,
        filename as source_file,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as loaded_at
{%- endmacro %}
