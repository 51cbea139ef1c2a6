{#- Fails for every non-null value that is not the name of a source table (the
    `source_tables` project variable). -#}
{% test is_a_source_table(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
        and {{ column_name }} not in (
            {%- for table in source_tables() -%}
                '{{ table.table }}'{{ ', ' if not loop.last }}
            {%- endfor -%}
        )
{% endtest %}
