with

source as (

    select * from {{ source('lake', 'Carriers') }}
    {{- new_batches_only() }}

),

renamed as (

    select
        cast(CarrierID as {{ dbt.type_bigint() }}) as carrier_id,
        cast(CarrierCode as {{ dbt.type_string() }}) as carrier_code,
        cast(Name as {{ dbt.type_string() }}) as carrier_name,
        cast(Mode as {{ dbt.type_string() }}) as transport_mode,
        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,
        _is_deleted as is_deleted,
        _batch_id as batch_id,
        {{ as_utc_timestamp('_extracted_at') }} as extracted_at,
        filename as source_file,
        {{ as_utc_timestamp(dbt.current_timestamp()) }} as loaded_at

    from source

)

select * from renamed
