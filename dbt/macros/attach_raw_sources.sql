{#
  Attach, read-only, the raw DuckDB file of each source that the selected nodes read:
  raw_<source>.duckdb in BATON_WAREHOUSE_DIR, as the catalog raw_<source>.

  Meltano writes one raw file per source (DuckDB allows one writer per file), so sources load in
  parallel. Attaching only what the selection reads means `dbt build --select tag:finance` neither
  needs the marketing file to exist nor collides with a marketing load in progress.
#}
{% macro attach_raw_sources() %}
  {% if not execute %}{{ return('') }}{% endif %}
  {% set sources = [] %}
  {% for unique_id in selected_resources %}
    {% set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) or {} %}
    {% if node.get('resource_type') == 'source' %}
      {% do sources.append(node.source_name) %}
    {% endif %}
    {% for parent in (node.get('depends_on') or {}).get('nodes', []) %}
      {% if parent.startswith('source.') %}
        {% do sources.append(graph.sources[parent].source_name) %}
      {% endif %}
    {% endfor %}
  {% endfor %}
  {% if env_var('BATON_WAREHOUSE', 'files') == 'lake' %}
    {{ return(attach_raw_lakes(sources | unique | sort)) }}
  {% endif %}
  {% set warehouse = env_var('BATON_WAREHOUSE_DIR') %}
  {% for source_name in sources | unique | sort %}
    {% set path = warehouse ~ '/raw_' ~ source_name ~ '.duckdb' %}
    {% set found = run_query("select count(*) from glob('" ~ path ~ "')").columns[0].values()[0] %}
    {% if found == 0 %}
      {{ exceptions.raise_compiler_error(
           "source '" ~ source_name ~ "': its raw database " ~ path ~ " does not exist yet. "
           ~ "Load the source first: meltano run tap-" ~ source_name ~ " target-raw-" ~ source_name) }}
    {% endif %}
    {% do run_query("attach if not exists '" ~ path ~ "' as raw_" ~ source_name ~ " (read_only)") %}
    {{ log("attached " ~ path ~ " read-only as raw_" ~ source_name, info=True) }}
  {% endfor %}
{% endmacro %}

{#
  Lake mode: each raw_<source> is a DuckLake of the catalog (the dbt-duckdb plugin defined a secret for
  each one it found). Attached read-only at its newest snapshot, taken once at the start: every model of
  this run reads the same raw data while the next load commits.
#}
{% macro attach_raw_lakes(sources) %}
  {% for source_name in sources %}
    {% set name = 'raw_' ~ source_name %}
    {% set defined = run_query("select count(*) from duckdb_secrets() where name = 'baton_lake_" ~ name ~ "'").columns[0].values()[0] %}
    {% if defined == 0 %}
      {{ exceptions.raise_compiler_error(
           "source '" ~ source_name ~ "': its raw lake " ~ name ~ " is not in the lake's catalog yet. "
           ~ "Load the source first: meltano run tap-" ~ source_name ~ " target-raw-" ~ source_name) }}
    {% endif %}
    {% do run_query("attach if not exists 'ducklake:baton_lake_" ~ name ~ "' as _baton_newest_" ~ name ~ " (read_only)") %}
    {% set snapshot = run_query("select max(snapshot_id) from ducklake_snapshots('_baton_newest_" ~ name ~ "')").columns[0].values()[0] %}
    {% do run_query("detach _baton_newest_" ~ name) %}
    {% do run_query("attach if not exists 'ducklake:baton_lake_" ~ name ~ "' as " ~ name ~ " (read_only, snapshot_version " ~ snapshot ~ ")") %}
    {{ log("attached the lake " ~ name ~ " read-only at snapshot " ~ snapshot, info=True) }}
  {% endfor %}
{% endmacro %}
