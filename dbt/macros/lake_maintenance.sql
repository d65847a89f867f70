{#
  `dbt run-operation lake_maintenance --args '{retention_days: 30}'` (the lake_maintenance DAG):
  for every lake of the catalog, expire the snapshots older than retention_days, then delete the
  files no kept snapshot reads. Files mode: nothing to do.
#}
{% macro lake_maintenance(retention_days=30) %}
  {% if env_var('BATON_WAREHOUSE', 'files') != 'lake' %}
    {{ log("warehouse is files (BATON_WAREHOUSE): no lake to maintain", info=True) }}
    {{ return('') }}
  {% endif %}
  {% set days = retention_days | int %}
  {% if days < 1 %}
    {{ exceptions.raise_compiler_error("retention_days must be at least 1, got " ~ retention_days) }}
  {% endif %}
  {% set secrets = run_query("select name from duckdb_secrets() where type = 'ducklake' and name like 'baton_lake_%' order by name").columns[0].values() %}
  {% for secret in secrets %}
    {% set name = secret[11:] %}
    {% do run_query("attach if not exists 'ducklake:" ~ secret ~ "' as " ~ name) %}
    {% set expired = run_query("select count(*) from ducklake_expire_snapshots('" ~ name ~ "', older_than => now() - interval " ~ days ~ " day)").columns[0].values()[0] %}
    {% set removed = run_query("select count(*) from ducklake_cleanup_old_files('" ~ name ~ "', cleanup_all => true)").columns[0].values()[0] %}
    {{ log("lake " ~ name ~ ": " ~ expired ~ " snapshot(s) older than " ~ days ~ " days expired, " ~ removed ~ " file(s) deleted", info=True) }}
  {% endfor %}
{% endmacro %}
