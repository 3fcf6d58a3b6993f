{#-
    The Qini curves of the targeting rules on the held-out campaign (issue 18):
    for each offer and rule, the held-out rows in descending score, and at
    every 5% of them the incremental retained customers of targeting that top
    share, Q = R_t - R_c x N_t / N_c (retained R and rows N of the treated and
    control rows in the top share), next to random targeting's straight line.
    A rule that ranks persuadables first rises above the line; one that ranks
    sleeping dogs first falls below it.
-#}
{#- off on Spark like every mart in marts/customers (dbt_project.yml): a file's config wins over the folder's -#}
{{ config(enabled=var('enable_contacts') and target.type != 'spark') }}
{%- set points = 20 -%}

with

predictions as (

    select * from {{ ref('ml_uplift_validation') }}

),

ranked as (

    select
        campaign_id,
        offer_type,
        rule,
        is_treatment,
        is_retained,
        row_number() over (partition by offer_type, rule order by score desc, contact_id) as position,
        count(*) over (partition by offer_type, rule) as total_rows
    from predictions

),

cumulative as (

    select
        campaign_id,
        offer_type,
        rule,
        position,
        total_rows,
        sum(case when is_treatment then is_retained else 0 end) over (
            partition by offer_type, rule order by position rows between unbounded preceding and current row
        ) as treated_retained,
        sum(case when is_treatment then 1 else 0 end) over (
            partition by offer_type, rule order by position rows between unbounded preceding and current row
        ) as treated_rows,
        sum(case when is_treatment then 0 else is_retained end) over (
            partition by offer_type, rule order by position rows between unbounded preceding and current row
        ) as control_retained,
        sum(case when is_treatment then 0 else 1 end) over (
            partition by offer_type, rule order by position rows between unbounded preceding and current row
        ) as control_rows
    from ranked

),

curve as (

    select
        *,
        treated_retained - control_retained * treated_rows * 1.0 / nullif(control_rows, 0) as incremental_retained
    from cumulative
    -- the last row of each 5% of the held-out rows
    where floor(position * {{ points }} * 1.0 / total_rows) > floor((position - 1) * {{ points }} * 1.0 / total_rows)

),

totals as (

    select
        offer_type,
        rule,
        incremental_retained as total_incremental_retained
    from curve
    where position = total_rows

),

final as (

    select
        cast(curve.campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(curve.offer_type as {{ dbt.type_string() }}) as offer_type,
        cast(curve.rule as {{ dbt.type_string() }}) as rule,
        cast(curve.position * 1.0 / curve.total_rows as double) as share_targeted,
        cast(curve.position as bigint) as rows_targeted,
        cast(curve.incremental_retained as double) as incremental_retained,
        cast(totals.total_incremental_retained * curve.position * 1.0 / curve.total_rows as double)
            as random_incremental_retained
    from curve
    inner join totals
        on curve.offer_type = totals.offer_type
        and curve.rule = totals.rule

)

select * from final
