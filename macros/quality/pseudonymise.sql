{#-
    Salted md5 of a normalised PII value. The salt comes from the environment
    variable RETENTION_PII_SALT; the default is for the demo only and must be
    replaced for real data (README, "Privacy").
-#}
{% macro pseudonymise(expression) -%}
    case
        when {{ expression }} is null or trim({{ expression }}) = '' then null
        else md5(concat(
            '{{ env_var("RETENTION_PII_SALT", "demo-only-salt-do-not-use-in-production") }}',
            lower(trim({{ expression }}))
        ))
    end
{%- endmacro %}
