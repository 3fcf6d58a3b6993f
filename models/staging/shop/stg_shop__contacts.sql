{{ config(enabled=var('enable_contacts')) }}

with

checked as (

    select * from {{ ref('base_shop__contacts_checked') }}
    where quarantine_reason is null

),

final as (

    select
        ---------- ids
        contact_id,
        customer_id,
        campaign_id,
        raw_row_id,

        ---------- timestamps
        contacted_at,
        cast(contacted_at as date) as contacted_date,

        ---------- attributes
        assignment,
        assignment = 'treatment' as is_treatment,
        offer_type,
        channel,

        ---------- amounts
        -- a control row was not contacted: no cost unless the export gives one
        case when assignment = 'control' then coalesce(offer_cost, 0) else offer_cost end as offer_cost

    from checked

)

select * from final
