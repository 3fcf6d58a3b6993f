{#- Raw orders as text, one row per raw row; typing and checks come next. -#}
with

source as (

    select * from {{ retention.raw_source('orders') }}

),

renamed as (

    select
        {{ retention.select_contract_columns(retention.raw_source('orders'), 'orders') }}
    from source

),

hashed as (

    select
        *,
        {{ retention.row_hash(retention.contract_output_columns('orders')) }} as raw_row_hash
    from renamed

)

select * from hashed
