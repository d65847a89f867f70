"""Scaffold a new source: its Meltano file, its dbt sources file and a staging stub.

    python tools/add_source.py NAME postgres|files [--entity ENTITY] [--key KEY] [--schema SCHEMA]

`make add-source NAME=crm KIND=files` runs it. A source is one file (meltano/sources/NAME.meltano.yml)
plus its dbt staging folder; the DAGs, assets, compose, the docker runner and the ECS task all
follow from that file's `baton:` declaration. Existing files are never overwritten.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")

POSTGRES = """\
# Source `{name}`: a Postgres database, extracted incrementally by {key_rk}.
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
        # Bulk path: Postgres COPY into CSV files the loader reads (records: one message per row).
        export_mode: copy
      select:
        - {schema}-{entity}.*
      metadata:
        {schema}-*:
          replication-method: INCREMENTAL
          replication-key: {key_rk}
"""

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

# Both kinds: the raw loader and the job. Files are validated record by record (no typed source).
LOADER = """\
  loaders:
    - name: {loader}
      inherit_from: target-baton-duckdb
      config:
        path: $BATON_WAREHOUSE_DIR/raw_{name}.duckdb
        default_target_schema: {name}
        validate_records: {validate}
jobs:
  - name: el-{name}
    tasks:
      - {extractor} {loader}
"""

DBT_SOURCES = """\
version: 2

sources:
  - name: {name}
    description: Source {name}, loaded by Meltano ({extractor}) into raw_{name}.duckdb.
    database: raw_{name}
    schema: {name}
    config:
      loaded_at_field: _sdc_batched_at
      freshness:
        warn_after: {{count: 24, period: hour}}
        error_after: {{count: 36, period: hour}}
    tables:
      - name: {entity}
        columns:
          - name: {key}
            data_tests: [unique, not_null]
"""

STAGING_SQL = """\
with

source as (

    select * from {{{{ source('{name}', '{entity}') }}}}

),

renamed as (

    select
        {key} as {singular}_id,
        * exclude ({key}),
        _sdc_batched_at as loaded_at

    from source

)

select * from renamed
"""

STAGING_YML = """\
version: 2

models:
  - name: stg_{entity}
    description: One row per {singular} of source {name}.
    columns:
      - name: {singular}_id
        data_tests: [unique, not_null]
      - name: loaded_at
        data_tests: [{{loaded_within: {{arguments: {{hours: 36}}}}}}]
"""


def _job_module():
    """meltano/bin/el.py: the ingestion job defines the names of a source's plugins."""
    spec = importlib.util.spec_from_file_location("baton_el", REPO / "meltano" / "bin" / "el.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["baton_el"] = module
    spec.loader.exec_module(module)
    return module


def singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def plan(name: str, kind: str, entity: str, key: str, schema: str, repo: Path = REPO) -> dict[Path, str]:
    extractor, loader = _job_module().plugins(name)
    values = {
        "name": name,
        "extractor": extractor,
        "loader": loader,
        "entity": entity,
        "singular": singular(entity),
        "key": key,
        "key_rk": "updated_at",
        "schema": schema,
        "url_var": f"BATON_{name.upper()}_DB_URL",
        "dir_var": f"BATON_{name.upper()}_DIR",
        "validate": "true" if kind == "files" else "false",
    }
    staging = repo / "dbt" / "models" / "staging" / name
    return {
        repo / "meltano" / "sources" / f"{name}.meltano.yml": (
            (POSTGRES if kind == "postgres" else FILES) + LOADER
        ).format(**values),
        staging / "__sources.yml": DBT_SOURCES.format(**values),
        staging / f"stg_{entity}.sql": STAGING_SQL.format(**values),
        staging / f"stg_{name}.yml": STAGING_YML.format(**values),
    }


def next_steps(name: str, kind: str, entity: str) -> str:
    upper = name.upper()
    if kind == "postgres":
        where = (
            f"  1. Put the connection in compose/.env (sandbox):  BATON_{upper}_DB_URL=postgresql://user:pw@host:5432/db\n"
            f"     and in Secrets Manager on AWS (Terraform creates the secret from the declaration; set its value)."
        )
    else:
        where = (
            f"  1. Drop the files into .baton/data/{name}/ named {entity}_*.csv (AWS: the EFS folder /data/{name});\n"
            f"     declare column types under schema_overrides in meltano/sources/{name}.meltano.yml if you know them."
        )
    return (
        f"Next steps for source '{name}':\n{where}\n"
        f"  2. Adjust the staging stub dbt/models/staging/{name}/stg_{entity}.sql (rename and cast columns).\n"
        f"  3. Read it from a mart: a domain is a folder dbt/models/marts/<domain>/ tagged in dbt_project.yml;\n"
        f"     its DAG is scheduled on raw_{name} as soon as one of its models reads stg_{entity}.\n"
        f"  4. make bake && make up   (ingest_{name} appears, triggered by the daily cycle)"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make add-source", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the source's name: lower case letters, digits, _")
    parser.add_argument("kind", choices=["postgres", "files"])
    parser.add_argument("--entity", help="the first table or file entity (default: the source's name)")
    parser.add_argument("--key", default="id", help="its primary key column (default: id)")
    parser.add_argument("--schema", default="public", help="postgres: the schema to extract (default: public)")
    args = parser.parse_args(argv)
    if not NAME.match(args.name):
        parser.error(f"NAME={args.name!r}: use 2-31 lower case letters, digits or _, starting with a letter")
    entity = args.entity or args.name
    if not NAME.match(entity):
        parser.error(f"--entity {entity!r}: use lower case letters, digits or _, starting with a letter")
    files = plan(args.name, args.kind, entity, args.key, args.schema)
    existing = [str(p.relative_to(REPO)) for p in files if p.exists()]
    if existing:
        print(f"error: source '{args.name}' exists already ({', '.join(existing)}); nothing written", file=sys.stderr)
        return 1
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    print(next_steps(args.name, args.kind, entity))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
