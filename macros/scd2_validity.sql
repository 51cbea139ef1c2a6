{#- The validity columns of a dimension read from a dbt snapshot: the
    version's key, `valid_from` (the first version of a key reaches back to
    the beginning, so that facts older than the first version seen still find
    one), `valid_to` (null while current) and `is_current`. -#}
{% macro scd2_validity(key, version_key_name) -%}
        dbt_scd_id as {{ version_key_name }},
        case
            when row_number() over (partition by {{ key }} order by dbt_valid_from) = 1
                then cast('1900-01-01' as {{ dbt.type_timestamp() }})
            else dbt_valid_from
        end as valid_from,
        dbt_valid_to as valid_to,
        {{ as_flag('dbt_valid_to is null') }} as is_current
{%- endmacro %}
