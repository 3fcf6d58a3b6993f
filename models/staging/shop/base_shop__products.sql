{#- Raw products as text, one row per raw row; typing and checks come next. -#}
{{ config(enabled=var('enable_products')) }}
with

source as (

    select * from {{ retention.raw_source('products') }}

),

renamed as (

    select
        {{ retention.select_contract_columns(retention.raw_source('products'), 'products') }}
    from source

),

hashed as (

    select
        *,
        {{ retention.row_hash(retention.contract_output_columns('products')) }} as raw_row_hash
    from renamed

)

select * from hashed
