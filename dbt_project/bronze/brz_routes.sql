with

source as (

    select * from {{ lake_batches('Routes') }} as batches

),

renamed as (

    select
        cast(RouteID as {{ dbt.type_bigint() }}) as route_id,
        cast(OriginWarehouseID as {{ dbt.type_bigint() }}) as origin_warehouse_id,
        cast(DestinationCity as {{ dbt.type_string() }}) as destination_city,
        cast(DestinationCountry as {{ dbt.type_string() }}) as destination_country,
        cast(DistanceKm as decimal(12, 2)) as distance_km,
        cast(PlannedTransitHours as {{ dbt.type_int() }}) as planned_transit_hours,
        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,
        {{ load_metadata_columns() }}

    from source

)

select * from renamed
