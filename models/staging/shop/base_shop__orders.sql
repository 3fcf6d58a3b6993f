{#-
    Raw orders as text, one row per raw row (malformed CSV lines included), with
    where it was loaded from; typing and checks come next.
-#}
with

source as (

    select * from {{ retention.raw_source('orders') }}

),

renamed as (

    select
        {{ retention.select_contract_columns(retention.raw_source('orders'), 'orders') }},
        {{ retention.select_load_position(retention.raw_source('orders')) }}
    from source

),

hashed as (

    select
        *,
        {{ retention.raw_row_hash('orders') }} as raw_row_hash
    from renamed

)

select * from hashed
