{#-
    The label horizon of this build, in days: the window [cutoff, cutoff + horizon)
    whose activity decides the churn label. Purchase churn uses churn_horizon_days,
    activity churn activity_horizon_days (docs/architecture.md, "Definitions").
    The one place the choice is made: int_cutoffs_generated stores it per cutoff
    (label_horizon_days), the Python models get it through their YAML config.
-#}
{% macro label_horizon_days() -%}
    {{ return(var('churn_horizon_days') if var('churn_definition') == 'purchase' else var('activity_horizon_days')) }}
{%- endmacro %}
