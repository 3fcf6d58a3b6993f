{#- Raw order_items as text, one row per raw row; typing and checks come next. -#}
{{ config(enabled=var('enable_order_items')) }}
with

source as (

    select * from {{ retention.raw_source('order_items') }}

),

renamed as (

    select
        {{ retention.select_contract_columns(retention.raw_source('order_items'), 'order_items') }}
    from source

),

hashed as (

    select
        *,
        {{ retention.row_hash(retention.contract_output_columns('order_items')) }} as raw_row_hash
    from renamed

)

select * from hashed
