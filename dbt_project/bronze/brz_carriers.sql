with

source as (

    select * from {{ lake_batches('Carriers') }} as batches

),

renamed as (

    select
        cast(CarrierID as {{ dbt.type_bigint() }}) as carrier_id,
        cast(CarrierCode as {{ dbt.type_string() }}) as carrier_code,
        cast(Name as {{ dbt.type_string() }}) as carrier_name,
        cast(Mode as {{ dbt.type_string() }}) as transport_mode,
        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,
        {{ load_metadata_columns() }}

    from source

)

select * from renamed
