{#
  Data tests read what changed since they last passed, not all of history.

  A test configured `where: __changed__` (dbt_project.yml sets it for every data test) checks, in
  an incremental build, only the rows of its model loaded after the newest `loaded_at` the same
  test last passed on. The rows at or before that time passed then and have not changed since: a
  row the loader writes again gets a newer _sdc_batched_at, a mart row merged again a newer
  `loaded_at` (the marts' watermark, macros/incremental.sql, stands on the same clock).

  Narrowed, per kind of test:
    not_null, accepted_values, in_range   the rows loaded since: each row is judged on its own
    unique                                every row whose key appears among the rows loaded since:
                                          a key now duplicated has a new row, so it is found
                                          wherever its twin is
  Read whole, always: relationships (a parent row can go without any child row changing: a
  full-table stream drops the rows its source deleted), any other test (loaded_within reads the
  newest load of the whole table; a test added later is whole until it is listed here), a model
  without a `loaded_at` column, a `--full-refresh` build, `--vars '{baton_test_all_rows: true}'`,
  and a test that has not passed since the test itself or any model it reads from last changed (its
  fingerprint below).

  Each passing test is recorded (on-run-end) in <analytics>._baton.tests_passed: the test, its
  fingerprint and the newest `loaded_at` of its model then. A failing test records nothing, so it
  reads the same rows again next time, and fails again until the data is fixed.
#}

{% macro get_where_subquery(relation) -%}
  {%- if config.get('where', '') == '__changed__' -%}
    {%- do return(changed_rows(relation)) -%}
  {%- endif -%}
  {%- do return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) -%}
{%- endmacro %}


{% macro changed_rows(relation) %}
  {# `dbt compile` and `dbt show` run no hooks: they show the whole-table test #}
  {% if not execute or flags.WHICH not in ('build', 'test') or flags.FULL_REFRESH
        or var('baton_test_all_rows', false) %}
    {{ return(relation) }}
  {% endif %}
  {# A test that passed narrowed has its record; its model had `loaded_at` then, and a model that
     changed since changed the fingerprint: no record found. One query per test. #}
  {% set test = graph.nodes.get(model.unique_id) %}
  {% if not test or not narrowed(test) %}
    {{ return(relation) }}
  {% endif %}
  {% set since = last_passed(test) %}
  {% if since is none %}
    {{ return(relation) }}
  {% endif %}
  {% set changed = "loaded_at > timestamptz '" ~ since ~ "'" %}
  {% if test.test_metadata.name == 'unique' %}
    {% set key = test.test_metadata.kwargs.column_name %}
    {% set changed = key ~ " in (select " ~ key ~ " from " ~ relation ~ " where " ~ changed ~ ")" %}
  {% endif %}
  {{ return("(select * from " ~ relation ~ " where " ~ changed ~ ") dbt_subquery") }}
{% endmacro %}


{% macro narrowed(test) %}
  {% set kinds = ['not_null', 'accepted_values', 'in_range', 'unique'] %}
  {{ return(test.get('test_metadata') and test.test_metadata.name in kinds
            and test.config.get('where') == '__changed__') }}
{% endmacro %}


{% macro has_loaded_at(relation) %}
  {% set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list %}
  {{ return('loaded_at' in columns) }}
{% endmacro %}


{#
  The test's definition (its kind and arguments), the code of every model it reads, directly or
  upstream, and the code of the macros the test and those models call (a generic test's SQL, the
  marts' watermark): a change to any of them makes the next run read the whole table once.
#}
{% macro test_fingerprint(test) %}
  {% set parts = [tojson(test.test_metadata, sort_keys=true)] %}
  {% set macros = test.depends_on.macros | list %}
  {% for node in upstream_nodes(test) %}
    {% do parts.append(node.unique_id ~ '=' ~ node.checksum.checksum) %}
    {% do macros.extend(node.depends_on.macros) %}
  {% endfor %}
  {% for macro_id in macros | unique %}
    {% set macro = context.get(macro_id.split('.')[-1]) %}
    {% do parts.append(macro_id ~ '=' ~ (local_md5(macro.macro.macro_sql) if macro else '')) %}
  {% endfor %}
  {{ return(local_md5(parts | sort | join('\n'))) }}
{% endmacro %}


{% macro tests_passed_table() %}
  {{ return(target.database ~ '._baton.tests_passed') }}
{% endmacro %}


{# on-run-start: the table of passed tests exists before any test reads it #}
{% macro create_tests_passed_table() %}
  {% if not execute %}{{ return('') }}{% endif %}
  {% do run_query("create schema if not exists " ~ target.database ~ "._baton") %}
  {% do run_query("create table if not exists " ~ tests_passed_table() ~ " (test_id varchar, fingerprint varchar, "
                  ~ "loaded_until timestamptz, passed_at timestamptz, invocation_id varchar)") %}
  {# a hook's statements share one transaction, which dbt does not commit for it #}
  {% do adapter.commit() %}
{% endmacro %}


{% macro last_passed(test) %}
  {% set found = run_query(
       "select max(loaded_until) from " ~ tests_passed_table() ~ " where test_id = '" ~ test.unique_id
       ~ "' and fingerprint = '" ~ test_fingerprint(test) ~ "'").columns[0].values()[0] %}
  {{ return(found) }}
{% endmacro %}


{% macro record_passed_tests(results) %}
  {% if not execute %}{{ return('') }}{% endif %}
  {% set rows = [] %}
  {% set newest = {} %}
  {% for result in results if result.node.resource_type == 'test' and result.status == 'pass' %}
    {% set test = graph.nodes.get(result.node.unique_id) %}
    {% set model_node = graph.nodes.get(test.get('attached_node') or '') if test else none %}
    {% if model_node and narrowed(test) %}
      {% set relation = api.Relation.create(database=model_node.database, schema=model_node.schema,
                                            identifier=model_node.alias) %}
      {% set key = relation | string %}
      {% if key not in newest %}
        {% do newest.update({key: run_query("select max(loaded_at) from " ~ relation).columns[0].values()[0]
                                  if has_loaded_at(relation) else none}) %}
      {% endif %}
      {% if newest[key] is not none %}
        {% do rows.append("('" ~ test.unique_id ~ "', '" ~ test_fingerprint(test) ~ "', timestamptz '"
                          ~ newest[key] ~ "', now(), '" ~ invocation_id ~ "')") %}
      {% endif %}
    {% endif %}
  {% endfor %}
  {% if rows %}
    {% do run_query("insert into " ~ tests_passed_table() ~ " values " ~ rows | join(', ')) %}
    {% do adapter.commit() %}
    {{ log(rows | length ~ " data tests passed; the next incremental build tests the rows loaded after these", info=True) }}
  {% endif %}
{% endmacro %}
