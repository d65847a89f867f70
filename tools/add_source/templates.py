"""The text of the files the scaffold writes, per kind of source (format strings)."""

POSTGRES = """\
# Source `{name}`: a Postgres database, {how}.
# `baton:` declares what the kit derives from this file: reconciliation (kind), the secrets the job
# needs (env file in the sandbox, Secrets Manager on ECS) and folders (none for a database).
baton:
  kind: postgres
  secrets: [{url_var}]
  folders: {{}}
plugins:
  extractors:
    - name: {extractor}
      inherit_from: tap-baton-postgres
      config:
        sqlalchemy_url: ${url_var}
        filter_schemas: [{schema}]
        # Bulk path: Postgres COPY into Parquet or CSV files the loader reads (records: one message per row).
        export_mode: copy
{selection}"""

FILES = """\
# Source `{name}`: CSV files dropped into its folder ({dir_var}), incremental by file.
# `baton:` declares what the kit derives from this file: reconciliation (kind), secrets (none) and
# the folder it reads, under the data folder (mounted into job containers; an EFS path on ECS).
baton:
  kind: files
  secrets: []
  folders: {{{dir_var}: {name}}}
plugins:
  extractors:
    - name: {extractor}
      inherit_from: tap-spreadsheets
      config:
        files:
          - path: ${dir_var}/{entity}_*.csv
            format: csv
            table_name: {entity}
            primary_keys: [{key}]
"""

# Both kinds: the raw loader. Files are validated record by record (no typed source).
LOADER = """\
  loaders:
    - name: {loader}
      inherit_from: target-baton-duckdb
      config:
        path: $BATON_WAREHOUSE_DIR/{raw_file}
        default_target_schema: {name}
        validate_records: {validate}
"""

DBT_SOURCES = """\
version: 2

sources:
  - name: {name}
    description: Source {name}, loaded by Meltano ({extractor}) into {raw_file}.
    database: {raw}
    schema: {name}
    config:
      loaded_at_field: _sdc_batched_at
      freshness:
        warn_after: {{count: 24, period: hour}}
        error_after: {{count: 36, period: hour}}
    tables:
{tables}"""

STAGING_SQL = """\
with

source as (

    select * from {{{{ source('{name}', '{table}') }}}}

),

renamed as (

    select
{columns}

    from source

)

select * from renamed
"""

STAGING_YML = """\
version: 2

models:
{models}"""
