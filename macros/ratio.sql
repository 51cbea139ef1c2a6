{#- numerator / denominator as a double; null when the denominator is 0 or
    null (a rate over no shipments is unknown, not 0). -#}
{% macro ratio(numerator, denominator) -%}
    case
        when ({{ denominator }}) = 0 then null
        else cast({{ numerator }} as {{ type_double() }}) / ({{ denominator }})
    end
{%- endmacro %}
