-- The registry has exactly one champion once any model has been trained.
select count(*) as champions
from {{ ref('fct_model_runs') }}
having count(*) > 0 and sum(case when is_champion then 1 else 0 end) <> 1
