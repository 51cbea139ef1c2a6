{#- The filter of an incremental bronze model: only batches newer than the
    newest one already loaded. Renders nothing on a full build. -#}
{% macro new_batches_only(batch_column='_batch_id') -%}
    {%- if is_incremental() %}
    where {{ batch_column }} > (select coalesce(max(batch_id), 0) from {{ this }})
    {%- endif %}
{%- endmacro %}
