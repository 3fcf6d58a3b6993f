{#-
    Raw contacts as text, one row per raw row (malformed CSV lines included), with
    where it was loaded from; typing and checks come next.
-#}
{{ config(enabled=var('enable_contacts')) }}
with

source as (

    select * from {{ retention.raw_source('contacts') }}

),

renamed as (

    select
        {{ retention.select_contract_columns(retention.raw_source('contacts'), 'contacts') }},
        {{ retention.select_load_position(retention.raw_source('contacts')) }}
    from source

),

hashed as (

    select
        *,
        {{ retention.raw_row_hash('contacts') }} as raw_row_hash
    from renamed

)

select * from hashed
