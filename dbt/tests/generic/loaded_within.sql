{#
  Freshness inside `dbt build`: fails when the newest load time in `column_name` (the loader's
  _sdc_batched_at, carried into staging as loaded_at) is older than `hours`. `dbt source
  freshness` is a separate command that a domain's build does not run; this test is part of it,
  so a domain built on stale raw data fails loudly. BATON_FRESHNESS_HOURS overrides `hours`.
#}
{% test loaded_within(model, column_name, hours=36) %}

{% set limit_hours = env_var('BATON_FRESHNESS_HOURS', hours) | int %}

select max({{ column_name }}) as newest_load
from {{ model }}
having max({{ column_name }}) is null
    or max({{ column_name }}) < now() - interval '{{ limit_hours }} hours'

{% endtest %}
