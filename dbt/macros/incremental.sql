{#
  Incremental marts: what changed since the last build, read from the loader's clock.

  Every raw row carries _sdc_batched_at, the time the loader wrote it (staging: loaded_at); a row
  the source changed is written again with a newer one. A mart keeps the newest load time of the
  rows it was built from, so "changed since the last build" is "loaded after the newest load time
  this table has seen". Plain SQL on purpose: the same models run on DuckDB files and on DuckLake.

  loaded_since(column): the newest `column` in this model's table (the watermark), or a time older
  than any load when the table is empty.
#}
{% macro loaded_since(column='loaded_at') %}
    coalesce((select max({{ column }}) from {{ this }}), timestamptz '1970-01-01 00:00:00+00')
{% endmacro %}
