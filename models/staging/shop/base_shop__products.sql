{#-
    Raw products as text, one row per raw row (malformed CSV lines included), with
    where it was loaded from; typing and checks come next.
-#}
{{ config(enabled=var('enable_products')) }}
with

source as (

    select * from {{ retention.raw_source('products') }}

),

renamed as (

    select
        {{ retention.select_contract_columns(retention.raw_source('products'), 'products') }},
        {{ retention.select_load_position(retention.raw_source('products')) }}
    from source

),

hashed as (

    select
        *,
        {{ retention.raw_row_hash('products') }} as raw_row_hash
    from renamed

)

select * from hashed
