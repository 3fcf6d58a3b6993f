{#- Raw customers as text, one row per raw row; typing and checks come next. -#}
{{ config(enabled=var('enable_customers')) }}
with

source as (

    select * from {{ retention.raw_source('customers') }}

),

renamed as (

    select
        {{ retention.select_contract_columns(retention.raw_source('customers'), 'customers') }}
    from source

),

hashed as (

    select
        *,
        {{ retention.row_hash(retention.contract_output_columns('customers')) }} as raw_row_hash
    from renamed

)

select * from hashed
