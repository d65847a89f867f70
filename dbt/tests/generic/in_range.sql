{#
  Fails on every row whose column lies outside [min_value, max_value] (either bound optional).
  Money and counts in the raw data are checked with it, so a negative amount or an absurd value
  stops the domain's build instead of reaching a mart.
#}
{% test in_range(model, column_name, min_value=none, max_value=none) %}

select {{ column_name }} as value_out_of_range
from {{ model }}
where {{ column_name }} is not null
  and (
    false
    {% if min_value is not none %} or {{ column_name }} < {{ min_value }} {% endif %}
    {% if max_value is not none %} or {{ column_name }} > {{ max_value }} {% endif %}
  )

{% endtest %}
