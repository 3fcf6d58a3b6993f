{#-
    Raw order_items as text, one row per raw row (malformed CSV lines included), with
    where it was loaded from; typing and checks come next.
-#}
{{ config(enabled=var('enable_order_items')) }}
with

source as (

    select * from {{ retention.raw_source('order_items') }}

),

renamed as (

    select
        {{ retention.select_contract_columns(retention.raw_source('order_items'), 'order_items') }},
        {{ retention.select_load_position(retention.raw_source('order_items')) }}
    from source

),

hashed as (

    select
        *,
        {{ retention.raw_row_hash('order_items') }} as raw_row_hash
    from renamed

)

select * from hashed
