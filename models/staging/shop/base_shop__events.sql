{#- Raw events as text, one row per raw row; typing and checks come next. -#}
{{ config(enabled=var('enable_events')) }}
with

source as (

    select * from {{ retention.raw_source('events') }}

),

renamed as (

    select
        {{ retention.select_contract_columns(retention.raw_source('events'), 'events') }}
    from source

),

hashed as (

    select
        *,
        {{ retention.row_hash(retention.contract_output_columns('events')) }} as raw_row_hash
    from renamed

)

select * from hashed
