{#- An amount in USD at a rate, rounded to cents, as the contracts' DECIMAL(18, 2).
    The amount is widened before the product: DuckDB multiplies two decimals of
    18 digits or fewer in 64 bits and fails the whole model on an overflow (an
    order of 2e10 in any currency). Null when the product does not fit
    DECIMAL(18, 2): the row goes to quarantine (usd_amount_out_of_range), the
    night goes on. -#}
{% macro usd_amount(amount, rate) -%}
    case
        when abs(cast({{ amount }} as decimal(20, 2)) * {{ rate }}) < 9999999999999999.99
            then cast(round(cast({{ amount }} as decimal(20, 2)) * {{ rate }}, 2) as decimal(18, 2))
    end
{%- endmacro %}
