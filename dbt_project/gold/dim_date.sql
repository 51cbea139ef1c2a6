with

days as (

    {{ day_spine(var('dim_date_start'), var('dim_date_end')) }}

),

final as (

    select
        cast(date_day as date) as date_day,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
        cast({{ date_part_number('year', 'date_day') }} as {{ dbt.type_int() }}) as year_number,
        cast({{ date_part_number('month', 'date_day') }} as {{ dbt.type_int() }}) as month_number,
        cast({{ date_part_number('isodow', 'date_day') }} as {{ dbt.type_int() }}) as iso_day_of_week,
        {{ as_flag(date_part_number('isodow', 'date_day') ~ ' in (6, 7)') }} as is_weekend
    from days

)

select * from final
