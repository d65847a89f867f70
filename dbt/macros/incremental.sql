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


{#
  When an incremental model is rebuilt in full: as dbt decides (`--full-refresh`, or the model's
  `full_refresh` config), and also when a raw table it reads was replaced since its last build.

  Replaced: every row of a staging model upstream (one that reads a source) was loaded after the
  model's newest load time (its watermark: the newest value of its columns named *loaded_at). In
  a table the loader keeps by key that happens only when the table was made anew: a source loaded
  again from nothing (`make seed`, a raw file deleted, a source removed and added back), or a
  stream that rewrites its whole table each run. Rows of the old table that the new one lacks
  would otherwise stay in the mart: an incremental build only replaces what was loaded since.
  Each staging model's oldest `loaded_at` and the watermark are read in one query.
#}
{% macro should_full_refresh() %}
  {% set configured = config.get('full_refresh') %}
  {% if configured is not none %}
    {% do return(configured) %}
  {% endif %}
  {% if flags.FULL_REFRESH %}
    {% do return(true) %}
  {% endif %}
  {% do return(execute and config.get('materialized') == 'incremental' and raw_replaced() | length > 0) %}
{% endmacro %}


{# The staging models upstream of this model whose every row was loaded after its watermark. #}
{% macro raw_replaced() %}
  {% set node = graph.nodes.get(model.unique_id) %}
  {% set existing = adapter.get_relation(this.database, this.schema, this.identifier) %}
  {% if node is none or existing is none or existing.is_view %}
    {% do return([]) %}
  {% endif %}
  {% set watermarks = [] %}
  {% for column in adapter.get_columns_in_relation(existing) if column.name.lower().endswith('loaded_at') %}
    {% do watermarks.append('max(' ~ adapter.quote(column.name) ~ ')') %}
  {% endfor %}
  {% set staging = staging_upstream(node) %}
  {% if not watermarks or not staging %}
    {% do return([]) %}
  {% endif %}
  {% set watermark = watermarks[0] if watermarks | length == 1 else 'greatest(' ~ watermarks | join(', ') ~ ')' %}
  {% set oldest = [] %}
  {% for stg in staging %}
    {% set relation = api.Relation.create(database=stg.database, schema=stg.schema, identifier=stg.alias) %}
    {% if has_loaded_at(relation) %}
      {% do oldest.append("select '" ~ stg.name ~ "' as model, (select min(loaded_at) from " ~ relation ~ ") as oldest") %}
    {% endif %}
  {% endfor %}
  {% if not oldest %}
    {% do return([]) %}
  {% endif %}
  {% set replaced = run_query(
       "select model from (" ~ oldest | join(' union all ') ~ ") where oldest > (select " ~ watermark
       ~ " from " ~ existing ~ ") order by model").columns[0].values() | list %}
  {# once, where the materialization decides (the model's SQL is compiled by then), not in is_incremental() #}
  {% if replaced and sql %}
    {{ log("rebuilding " ~ this ~ " in full: every row of " ~ replaced | join(', ')
           ~ " was loaded after its last build (its raw table was loaded again from nothing)", info=True) }}
  {% endif %}
  {% do return(replaced) %}
{% endmacro %}


{# Every node of the project upstream of `node` (models, snapshots, seeds: not sources), each once. #}
{% macro upstream_nodes(node) %}
  {% set found, seen = [], [] %}
  {% set walk = namespace(frontier=node.depends_on.nodes | list) %}
  {% for _ in range(50) if walk.frontier %}
    {% set next = [] %}
    {% for unique_id in walk.frontier if unique_id not in seen %}
      {% do seen.append(unique_id) %}
      {% set parent = graph.nodes.get(unique_id) %}
      {% if parent %}
        {% do found.append(parent) %}
        {% do next.extend(parent.depends_on.nodes) %}
      {% endif %}
    {% endfor %}
    {% set walk.frontier = next %}
  {% endfor %}
  {% do return(found) %}
{% endmacro %}


{# The models upstream of `node` that read a source directly: the staging models. #}
{% macro staging_upstream(node) %}
  {% set found = [] %}
  {% for parent in upstream_nodes(node) if parent.resource_type == 'model' %}
    {% set sources = [] %}
    {% for parent_id in parent.depends_on.nodes if parent_id.startswith('source.') %}
      {% do sources.append(parent_id) %}
    {% endfor %}
    {% if sources %}
      {% do found.append(parent) %}
    {% endif %}
  {% endfor %}
  {% do return(found) %}
{% endmacro %}
