-- A label exists exactly when its window has closed by as_of_date.
select *
from {{ ref('fct_customer_snapshots') }}
where
    (is_label_mature and is_churned is null)
    or (not is_label_mature and is_churned is not null)
    or (is_label_mature <> (label_window_end_date <= as_of_date))
