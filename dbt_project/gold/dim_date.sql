with

days as (

    {{ dbt.date_spine(
        datepart='day',
        start_date=dbt.cast(dbt.string_literal(var('dim_date_start')), api.Column.translate_type('date')),
        end_date=dbt.cast(dbt.string_literal(var('dim_date_end')), api.Column.translate_type('date'))
    ) }}

),

final as (

    select
        cast(date_day as date) as date_day,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
        cast({{ date_part_number('year', 'date_day') }} as {{ dbt.type_int() }}) as year_number,
        cast({{ date_part_number('month', 'date_day') }} as {{ dbt.type_int() }}) as month_number,
        cast({{ date_part_number('isodow', 'date_day') }} as {{ dbt.type_int() }}) as iso_day_of_week,
        {{ date_part_number('isodow', 'date_day') }} in (6, 7) as is_weekend
    from days

)

select * from final
