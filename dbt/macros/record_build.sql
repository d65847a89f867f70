{#
  Lake mode: the snapshot of the analytics lake this run left, recorded with its cycle in
  analytics._baton.builds (what `make query AT=<cycle>` reads) and printed as the job's
  `BATON_RESULT: {"snapshot_id": ...}` line (the dbt_<domain> event's extra carries it).
  BATON_CYCLE_ID is set by the domain's DAG task; empty for a run by hand.
#}
{% macro record_build() %}
  {% if not execute or env_var('BATON_WAREHOUSE', 'files') != 'lake' %}{{ return('') }}{% endif %}
  {% set snapshot = run_query("select max(snapshot_id) from ducklake_snapshots('analytics')").columns[0].values()[0] %}
  {% set cycle_id = env_var('BATON_CYCLE_ID', '') %}
  {% set selection = (invocation_args_dict.get('select') or []) | join(' ') %}
  {# the schema analytics._baton is made at the run's start (create_tests_passed_table) #}
  {% do run_query("create table if not exists analytics._baton.builds (cycle_id varchar, selection varchar, "
                  ~ "snapshot_id bigint, invocation_id varchar, built_at timestamptz)") %}
  {% do run_query("insert into analytics._baton.builds values ('" ~ cycle_id | replace("'", "''") ~ "', '"
                  ~ selection | replace("'", "''") ~ "', " ~ snapshot ~ ", '" ~ invocation_id ~ "', now())") %}
  {{ log("the analytics lake is at snapshot " ~ snapshot ~ (" for cycle " ~ cycle_id if cycle_id else ""), info=True) }}
  {{ print('BATON_RESULT: {"snapshot_id": ' ~ snapshot ~ ', "cycle_id": ' ~ tojson(cycle_id or none) ~ '}') }}
{% endmacro %}
