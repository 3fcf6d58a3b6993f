{#-
    A compound primary key: no two rows share the same values in
    `combination_of_columns`. The same contract as dbt_utils' test of this name
    (the package hub is not reachable from our build machines, so the project
    carries its own). Returns one row per duplicated combination.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

validation as (

    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1

)

select * from validation

{% endtest %}
