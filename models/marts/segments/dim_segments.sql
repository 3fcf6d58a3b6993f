{#-
    One row per behaviour segment (ml_customer_segments) for BI: name,
    description, size, profile, and churn seen from both sides.
      - observed_churn_rate: of the customers in the segment at as_of_date who
        were also eligible at the latest mature cutoff, the share that churned
        in that cutoff's label window. Segments are assigned at as_of_date, and
        that window has closed by then, so this is the recent churn of the
        people who make up the segment today, not a forecast, and not the churn
        of the segment as it was at the cutoff.
        Caveat: with the default horizon, the latest mature cutoff is
        as_of_date - horizon, so its label window is the last `horizon` days,
        and a segment defined by recent orders has a low observed rate by
        construction. backtest_churn_rate is the comparison without that overlap.
      - backtest_churn_rate: the same cutoff's churn rate of the customers the
        segment's centroid claimed at that cutoff (same run, features as of
        the cutoff; computed in ml_segment_profiles): what customers with this
        profile went on to do. Compare it with predicted_churn_rate.
      - predicted_churn_rate: mean churn probability (ml_churn_scores) of the
        segment's customers, scored at the same as_of_date.
    Privacy: a segment with fewer than `min_group_size` customers keeps its id
    and name but shows no description, size or metric; a churn rate computed
    on fewer than `min_group_size` customers is also hidden.
-#}
{#- Each rate, or null when it describes fewer than min_group_size customers. -#}
{%- set unless_small = {
    'observed_churn_rate': retention.unless_small_group('labelled_customers', 'observed_churn_rate'),
    'backtest_churn_rate': retention.unless_small_group('backtest_labelled_customers', 'backtest_churn_rate'),
    'predicted_churn_rate': retention.unless_small_group('scored_customers', 'predicted_churn_rate'),
} -%}

with

profiles as (

    select * from {{ ref('ml_segment_profiles') }}

),

customer_segments as (

    select
        customer_id,
        as_of_date,
        segment_id
    from {{ ref('ml_customer_segments') }}

),

labelled_snapshots as (

    select
        customer_id,
        cutoff_date,
        is_churned
    from {{ ref('fct_customer_snapshots') }}
    where is_label_mature

),

cutoffs as (

    select * from {{ ref('int_cutoffs_generated') }}

),

churn_scores as (

    select
        customer_id,
        as_of_date,
        churn_probability
    from {{ ref('ml_churn_scores') }}

),

latest_mature_cutoff as (

    {#- One row, null without a mature cutoff, so the cross join below keeps every segment. #}
    select max(case when is_latest_mature_cutoff then cutoff_date end) as cutoff_date
    from cutoffs

),

latest_labels as (

    select
        labelled_snapshots.customer_id,
        labelled_snapshots.is_churned
    from labelled_snapshots
    inner join latest_mature_cutoff
        on labelled_snapshots.cutoff_date = latest_mature_cutoff.cutoff_date

),

observed as (

    select
        customer_segments.segment_id,
        count(*) as labelled_customers,
        avg(case when latest_labels.is_churned then 1 else 0 end) as observed_churn_rate
    from customer_segments
    inner join latest_labels
        on customer_segments.customer_id = latest_labels.customer_id
    group by customer_segments.segment_id

),

predicted as (

    select
        customer_segments.segment_id,
        count(*) as scored_customers,
        {{ retention.exact_avg('churn_scores.churn_probability') }} as predicted_churn_rate
    from customer_segments
    inner join churn_scores
        on
            customer_segments.customer_id = churn_scores.customer_id
            and customer_segments.as_of_date = churn_scores.as_of_date
    group by customer_segments.segment_id

),

joined as (

    select
        profiles.*,
        latest_mature_cutoff.cutoff_date as observed_churn_cutoff_date,
        coalesce(observed.labelled_customers, 0) as labelled_customers,
        observed.observed_churn_rate,
        coalesce(predicted.scored_customers, 0) as scored_customers,
        predicted.predicted_churn_rate,
        {{ retention.is_small_group('profiles.customers') }} as is_suppressed
    from profiles
    cross join latest_mature_cutoff
    left join observed
        on profiles.segment_id = observed.segment_id
    left join predicted
        on profiles.segment_id = predicted.segment_id

),

final as (

    select
        ---------- identity (always shown)
        cast(segment_id as {{ dbt.type_int() }}) as segment_id,
        cast(segment_name as {{ dbt.type_string() }}) as segment_name,
        is_suppressed,

        ---------- size and profile (hidden for small segments)
        cast(case when not is_suppressed then description end as {{ dbt.type_string() }}) as description,
        cast(case when not is_suppressed then customers end as {{ dbt.type_bigint() }}) as customers,
        cast(case when not is_suppressed then share_of_customers end as double) as share_of_customers,
        cast(case when not is_suppressed then mean_days_since_last_order end as double)
            as mean_days_since_last_order,
        cast(case when not is_suppressed then mean_orders_count end as double) as mean_orders_count,
        cast(case when not is_suppressed then mean_revenue_total end as double) as mean_revenue_total,
        cast(case when not is_suppressed then mean_avg_order_value end as double) as mean_avg_order_value,
        cast(case when not is_suppressed then mean_days_since_first_order end as double)
            as mean_days_since_first_order,

        ---------- churn
        cast(observed_churn_cutoff_date as date) as observed_churn_cutoff_date,
        cast(case when not is_suppressed then labelled_customers end as {{ dbt.type_bigint() }})
            as labelled_customers,
        cast(
            case when not is_suppressed then {{ unless_small['observed_churn_rate'] }} end
            as double
        ) as observed_churn_rate,
        cast(case when not is_suppressed then backtest_labelled_customers end as {{ dbt.type_bigint() }})
            as backtest_labelled_customers,
        cast(
            case when not is_suppressed then {{ unless_small['backtest_churn_rate'] }} end
            as double
        ) as backtest_churn_rate,
        cast(case when not is_suppressed then scored_customers end as {{ dbt.type_bigint() }}) as scored_customers,
        cast(
            case when not is_suppressed then {{ unless_small['predicted_churn_rate'] }} end
            as double
        ) as predicted_churn_rate,

        ---------- the run
        cast(k as {{ dbt.type_int() }}) as k,
        cast(silhouette as double) as silhouette,
        cast(segment_run_id as {{ dbt.type_string() }}) as segment_run_id,
        cast(as_of_date as date) as as_of_date

    from joined

)

select * from final
