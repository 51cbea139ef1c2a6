{#- A post-hook for an incremental model fed by silver: delete the rows whose
    key is no longer in `relation` (deleted in the source, now quarantined, or
    no longer meeting `condition`), which a merge of the changed rows alone
    cannot remove. -#}
{% macro delete_rows_not_in(key, relation, condition=none) -%}
    {%- if target.type == 'spark' and config.get('file_format', 'parquet') == 'parquet' -%}
        {#- nothing: the local spark target only builds from scratch (macros/spark_parquet_builds.sql) -#}
        {{ return('') }}
    {%- endif %}
    delete from {{ this }}
    where {{ key }} not in (
        select kept.{{ key }}
        from {{ relation }} as kept
        where kept.{{ key }} is not null
        {%- if condition %}
            and {{ condition }}
        {%- endif %}
    )
{%- endmacro %}
