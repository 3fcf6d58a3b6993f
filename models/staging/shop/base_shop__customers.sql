{#-
    Raw customers as text, one row per raw row (malformed CSV lines included), with
    where it was loaded from; typing and checks come next.
-#}
{{ config(enabled=var('enable_customers')) }}
with

source as (

    select * from {{ retention.raw_source('customers') }}

),

renamed as (

    select
        {{ retention.select_contract_columns(retention.raw_source('customers'), 'customers') }},
        {{ retention.select_load_position(retention.raw_source('customers')) }}
    from source

),

hashed as (

    select
        *,
        {{ retention.raw_row_hash('customers') }} as raw_row_hash
    from renamed

)

select * from hashed
