"""Scaffold a new source (its Meltano file, its dbt sources file, staging stubs), or remove one.

    python tools/add_source.py NAME postgres|files [--entity ENTITY] [--key KEY] [--schema SCHEMA] [--no-discover]
    python tools/add_source.py remove NAME [--force]

`make add-source NAME=crm KIND=postgres` runs it. A source is one file (meltano/sources/NAME.meltano.yml)
plus its dbt staging folder; the DAGs, assets, compose, the docker runner and the ECS task all
follow from that file's `baton:` declaration. Existing files are never overwritten.

A postgres source is first discovered: the extractor's own discovery (`tap-baton-postgres
--discover`) runs in a container of the jobs image with the source's secret BATON_<NAME>_DB_URL
from the env file (compose/.env). From the tables it finds in the schema (or only ENTITY), the
scaffold writes the select list, each table's key properties (its primary key; none when it has
none) and replication: INCREMENTAL by an updated_at-like column where the table has one, else
FULL_TABLE; the staging stubs select the tables' real columns. When the source cannot be reached,
it says so and writes the stub from ENTITY and KEY alone.

`remove NAME` deletes what the scaffold wrote (the Meltano file and the staging folder), refusing
an unknown name and, without --force, a source that models outside its staging folder still read.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
RESERVED = {"remove"}
# The extractor in the jobs image (Meltano installs it there at build time).
TAP = "/opt/baton/meltano/.meltano/extractors/tap-baton-postgres/venv/bin/tap-baton-postgres"
DISCOVERY_TIMEOUT = 300
# Columns that say when a row last changed, best first; then any *updated*/*modified* timestamp.
UPDATED_AT = (
    "updated_at",
    "modified_at",
    "last_modified_at",
    "last_updated_at",
    "updated",
    "modified",
    "last_modified",
    "last_updated",
    "updated_on",
    "modified_on",
    "changed_at",
)
UPDATED_LIKE = re.compile(r"(updated|modified|changed)")
SQL_KEYWORDS = set(
    [
        "all",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "between",
        "by",
        "case",
        "cast",
        "check",
        "column",
        "create",
        "default",
        "desc",
        "distinct",
        "else",
        "end",
        "except",
        "false",
        "from",
        "group",
        "having",
        "in",
        "intersect",
        "into",
        "is",
        "join",
        "limit",
        "not",
        "null",
        "offset",
        "on",
        "or",
        "order",
        "primary",
        "references",
        "select",
        "table",
        "then",
        "to",
        "true",
        "union",
        "user",
        "using",
        "when",
        "where",
        "window",
        "with",
    ]
)


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
        # Bulk path: Postgres COPY into CSV files the loader reads (records: one message per row).
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
        path: $BATON_WAREHOUSE_DIR/raw_{name}.duckdb
        default_target_schema: {name}
        validate_records: {validate}
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


@dataclass
class Table:
    """One table as discovery found it (or as ENTITY and KEY describe it, without discovery)."""

    name: str
    columns: list[str] = field(default_factory=list)  # raw column names, source order; [] = unknown
    keys: list[str] = field(default_factory=list)
    replication_key: str | None = None
    discovered: bool = False

    @property
    def raw(self) -> str:
        """Its name in raw_<source>.duckdb, in the dbt source and in its staging model's name."""
        return raw_column(self.name)

    @property
    def id_column(self) -> str:
        return f"{singular(self.raw)}_id"


def _job_module():
    """meltano/bin/el.py: the ingestion job defines the names of a source's plugins."""
    spec = importlib.util.spec_from_file_location("baton_el", REPO / "meltano" / "bin" / "el.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["baton_el"] = module
    spec.loader.exec_module(module)
    return module


def singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def raw_column(name: str) -> str:
    """The column name the loader gives a source column (target-baton-duckdb's safe_identifier)."""
    text = re.sub(r"[^a-z0-9_]", "_", name.lower())
    return text if text and not text[0].isdigit() else f"_{text}"


def sql_name(column: str) -> str:
    """A raw column as the staging SQL names it: quoted where it is an SQL keyword."""
    return f'"{column}"' if column in SQL_KEYWORDS else column


# --- discovery -----------------------------------------------------------------------------------
class Unreachable(RuntimeError):
    """Discovery could not run or reach the source: the scaffold falls back to the stub."""


def _is_timestamp(schema: dict) -> bool:
    return schema.get("format") in ("date-time", "date")


def replication_key(properties: dict[str, dict]) -> str | None:
    """The updated_at-like timestamp column of a table, or None (the table is then FULL_TABLE)."""
    stamps = {name for name, schema in properties.items() if _is_timestamp(schema)}
    for name in UPDATED_AT:
        if name in stamps:
            return name
    return next((name for name in properties if name in stamps and UPDATED_LIKE.search(name)), None)


def tables_from_catalog(catalog: dict, schema: str, entity: str | None = None) -> list[Table]:
    """The tables of `schema` in a Singer catalog from discovery (all, or only `entity`)."""
    found = []
    for stream in catalog.get("streams", []):
        root = next((m["metadata"] for m in stream.get("metadata", []) if m.get("breadcrumb") == []), {})
        stream_schema = root.get("schema-name") or stream.get("tap_stream_id", "").split("-", 1)[0]
        table = stream.get("table_name") or stream.get("stream", "").split("-", 1)[-1]
        if stream_schema != schema or (entity and table != entity):
            continue
        properties = (stream.get("schema") or {}).get("properties") or {}
        found.append(
            Table(
                name=table,
                columns=list(properties),
                keys=list(root.get("table-key-properties") or stream.get("key_properties") or []),
                replication_key=replication_key(properties),
                discovered=True,
            )
        )
    return sorted(found, key=lambda t: t.name)


def env_value(var: str, env_file: Path) -> str | None:
    """`var` from the environment, else from the stack's env file."""
    if os.environ.get(var):
        return os.environ[var]
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            key, eq, value = line.partition("=")
            if eq and key.strip() == var and value.strip():
                return value.strip().strip("'\"")
    return None


def compose_command(repo: Path = REPO) -> list[str]:
    """The stack's compose command, as the Makefile builds it (make exports these settings)."""
    compose = ["docker", "compose"] if shutil.which("docker") else ["docker-compose"]
    project = os.environ.get("BATON_PROJECT") or re.sub(r"[^a-z0-9_-]", "-", repo.name.lower()).lstrip("-_")
    env_file = os.environ.get("BATON_ENV_PATH") or str(repo / "compose" / ".env")
    return [*compose, "-p", project, "--env-file", env_file, "-f", str(repo / "compose" / "compose.yml")]


def discover(name: str, schema: str, repo: Path = REPO) -> dict:
    """The Singer catalog of the source's schema, from the extractor's discovery in a container of
    the jobs image. The secret stays in the env file and the container: it is not on a command line."""
    env_file = Path(os.environ.get("BATON_ENV_PATH") or repo / "compose" / ".env")
    url_var = f"BATON_{name.upper()}_DB_URL"
    if not env_value(url_var, env_file):
        raise Unreachable(f"{url_var} is not set in {env_file} (nor in the environment)")
    script = (
        f'TAP_BATON_POSTGRES_SQLALCHEMY_URL="${url_var}" '
        f"TAP_BATON_POSTGRES_FILTER_SCHEMAS='{json.dumps([schema])}' exec {TAP} --config ENV --discover"
    )
    image = os.environ.get("BATON_JOBS_IMAGE")
    if image and shutil.which("docker"):
        found = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True)
        if found.returncode != 0:
            raise Unreachable(f"the jobs image {image} is not built: run `make jobs-image` (or `make up`) first")
    passed = ["-e", url_var] if os.environ.get(url_var) else []
    cmd = [
        *compose_command(repo),
        "run",
        "--rm",
        "--no-deps",
        "-T",
        *passed,
        "--entrypoint",
        "sh",
        "jobs",
        "-c",
        script,
    ]
    try:
        done = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=DISCOVERY_TIMEOUT)
    except FileNotFoundError as exc:
        raise Unreachable(f"cannot run {cmd[0]}: {exc}") from None
    except subprocess.TimeoutExpired:
        raise Unreachable(f"discovery did not answer within {DISCOVERY_TIMEOUT} s") from None
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip() and "sqlalche.me" not in ln]
        said = [ln for ln in lines if re.search(r"(Error|error|refused|timeout|failed)\b", ln)]
        last = said[-1] if said else (lines[-1] if lines else "")
        raise Unreachable(f"discovery failed (exit {done.returncode}): {last.strip()[:400]}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise Unreachable("discovery printed no catalog (see `make logs`)") from None


# --- what the scaffold writes --------------------------------------------------------------------
def _selection(schema: str, tables: list[Table]) -> str:
    lines = ["      select:", *(f"        - {schema}-{t.name}.*" for t in tables), "      metadata:"]
    for t in tables:
        lines.append(f"        {schema}-{t.name}:")
        if t.discovered:
            keys = ", ".join(t.keys)
            note = "" if t.keys else "  # no primary key: loaded without one (FULL_TABLE / the re-read window replaced)"
            lines.append(f"          table-key-properties: [{keys}]{note}")
        if t.replication_key:
            lines += ["          replication-method: INCREMENTAL", f"          replication-key: {t.replication_key}"]
        else:
            lines.append("          replication-method: FULL_TABLE  # no updated_at-like column: read whole each run")
    return "\n".join(lines) + "\n"


def _how(tables: list[Table]) -> str:
    incremental = [f"{t.name} by {t.replication_key}" for t in tables if t.replication_key]
    full = [t.name for t in tables if not t.replication_key]
    parts = ([f"incrementally ({', '.join(incremental)})"] if incremental else []) + (
        [f"whole each run ({', '.join(full)})"] if full else []
    )
    return "extracted " + "; ".join(parts)


def _source_table(t: Table) -> str:
    lines = [f"      - name: {t.raw}"]
    if len(t.keys) == 1:
        lines += [
            "        columns:",
            f"          - name: {raw_column(t.keys[0])}",
            "            data_tests: [unique, not_null]",
        ]
    return "\n".join(lines) + "\n"


def _staging_columns(t: Table) -> str:
    key = raw_column(t.keys[0]) if len(t.keys) == 1 else None
    lines = []
    if key:
        lines.append(f"{sql_name(key)} as {t.id_column}" if key != t.id_column else key)
    if t.columns:
        lines += [sql_name(raw_column(c)) for c in t.columns if raw_column(c) != key]
    elif key:
        lines.append(f"* exclude ({sql_name(key)})")
    else:
        lines.append("*")
    lines.append("_sdc_batched_at as loaded_at")
    return ",\n".join(f"        {line}" for line in lines)


def _staging_model(name: str, t: Table) -> str:
    lines = [f"  - name: stg_{t.raw}", f"    description: One row per {singular(t.raw)} of source {name}."]
    lines.append("    columns:")
    if len(t.keys) == 1:
        lines += [f"      - name: {t.id_column}", "        data_tests: [unique, not_null]"]
    lines += ["      - name: loaded_at", "        data_tests: [{loaded_within: {arguments: {hours: 36}}}]"]
    return "\n".join(lines) + "\n"


def plan(
    name: str,
    kind: str,
    entity: str,
    key: str,
    schema: str,
    repo: Path = REPO,
    tables: list[Table] | None = None,
) -> dict[Path, str]:
    """path -> text of every file the scaffold writes. `tables`: what discovery found (postgres);
    without it, one table `entity` keyed by `key`, incremental by updated_at (the stub)."""
    extractor, loader = _job_module().plugins(name)
    tables = tables or [Table(name=entity, keys=[key], replication_key="updated_at")]
    values = {
        "name": name,
        "extractor": extractor,
        "loader": loader,
        "entity": entity,
        "key": key,
        "schema": schema,
        "url_var": f"BATON_{name.upper()}_DB_URL",
        "dir_var": f"BATON_{name.upper()}_DIR",
        "validate": "true" if kind == "files" else "false",
        "how": _how(tables),
        "selection": _selection(schema, tables),
        "tables": "".join(_source_table(t) for t in tables),
        "models": "".join(_staging_model(name, t) for t in tables),
    }
    staging = repo / "dbt" / "models" / "staging" / name
    files = {
        repo / "meltano" / "sources" / f"{name}.meltano.yml": (
            (POSTGRES if kind == "postgres" else FILES) + LOADER
        ).format(**values),
        staging / "__sources.yml": DBT_SOURCES.format(**values),
    }
    for t in tables:
        files[staging / f"stg_{t.raw}.sql"] = STAGING_SQL.format(name=name, table=t.raw, columns=_staging_columns(t))
    files[staging / f"stg_{name}.yml"] = STAGING_YML.format(**values)
    return files


def next_steps(name: str, kind: str, tables: list[Table], discovered: bool) -> str:
    upper = name.upper()
    if kind == "postgres" and discovered:
        where = (
            f"  1. Its connection is BATON_{upper}_DB_URL in compose/.env (sandbox); on AWS, set the value of\n"
            "     its secret."
        )
    elif kind == "postgres":
        where = (
            f"  1. Put the connection in compose/.env (sandbox):  BATON_{upper}_DB_URL=postgresql://user:pw@host:5432/db\n"
            f"     and in Secrets Manager on AWS (Terraform creates the secret from the declaration; set its value).\n"
            f"     Then `python3 tools/add_source.py remove {name}` and `make add-source` again to scaffold it\n"
            "     from the source's own tables."
        )
    else:
        entity = tables[0].name
        where = (
            f"  1. Drop the files into .baton/data/{name}/ named {entity}_*.csv (AWS: the EFS folder /data/{name});\n"
            f"     declare column types under schema_overrides in meltano/sources/{name}.meltano.yml if you know them."
        )
    stubs = ", ".join(f"dbt/models/staging/{name}/stg_{t.raw}.sql" for t in tables)
    return (
        f"Next steps for source '{name}':\n{where}\n"
        f"  2. Adjust the staging stubs (rename and cast columns): {stubs}.\n"
        f"  3. Read it from a mart: a domain is a folder dbt/models/marts/<domain>/ tagged in dbt_project.yml;\n"
        f"     its DAG is scheduled on raw_{name} as soon as one of its models reads a stg_ model of it.\n"
        f"  4. make bake && make up   (ingest_{name} appears, triggered by the daily cycle)"
    )


# --- remove --------------------------------------------------------------------------------------
def known_sources(repo: Path = REPO) -> list[str]:
    return sorted(p.name.removesuffix(".meltano.yml") for p in (repo / "meltano" / "sources").glob("*.meltano.yml"))


def readers(name: str, repo: Path = REPO) -> list[str]:
    """Files outside the source's staging folder that read it (source('name', ...) or its stg_ models)."""
    staging = repo / "dbt" / "models" / "staging" / name
    models = [p.stem for p in staging.glob("*.sql")] if staging.is_dir() else []
    reads = [rf"source\(\s*['\"]{re.escape(name)}['\"]", *(rf"ref\(\s*['\"]{re.escape(m)}['\"]" for m in models)]
    pattern = re.compile("|".join(reads))
    found = []
    for path in sorted((repo / "dbt").rglob("*")):
        if path.suffix not in (".sql", ".yml") or staging in path.parents or "target" in path.parts:
            continue
        if pattern.search(path.read_text(errors="replace")):
            found.append(str(path.relative_to(repo)))
    return found


def remove(name: str, force: bool = False, repo: Path = REPO) -> int:
    meltano_file = repo / "meltano" / "sources" / f"{name}.meltano.yml"
    staging = repo / "dbt" / "models" / "staging" / name
    if not meltano_file.exists() and not staging.exists():
        known = ", ".join(known_sources(repo)) or "none"
        where = f"{meltano_file.relative_to(repo)} nor {staging.relative_to(repo)}/"
        print(f"error: no source '{name}': neither {where} exists (known: {known}); nothing removed", file=sys.stderr)
        return 1
    still_read = readers(name, repo)
    if still_read and not force:
        print(
            f"error: source '{name}' is still read by {', '.join(still_read)}: change those models first "
            f"(or remove it anyway with --force; dbt will then fail to parse them); nothing removed",
            file=sys.stderr,
        )
        return 1
    for path in (meltano_file, staging):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        print(f"removed {path.relative_to(repo)}{'/' if path.suffix == '' else ''}")
    upper = name.upper()
    print(
        f"Source '{name}' removed from the project. Its data is kept: raw_{name}.duckdb in the warehouse, "
        f"its Meltano state, and BATON_{upper}_DB_URL or BATON_{upper}_DIR in compose/.env if you set them.\n"
        f"Next: make bake && make up (its DAG ingest_{name} goes away)."
    )
    return 0


# --- command line --------------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    if argv[:1] == ["remove"]:
        parser = argparse.ArgumentParser(prog="add_source.py remove", description="Remove a source the scaffold wrote")
        parser.add_argument("name")
        parser.add_argument("--force", action="store_true", help="remove it even if models still read it")
        args = parser.parse_args(argv[1:])
        return remove(args.name, args.force)
    parser = argparse.ArgumentParser(prog="make add-source", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the source's name: lower case letters, digits, _")
    parser.add_argument("kind", choices=["postgres", "files"])
    parser.add_argument("--entity", help="the table or file entity (postgres: default every table of the schema)")
    parser.add_argument("--key", help="its primary key column when it cannot be discovered (default: id)")
    parser.add_argument("--schema", default="public", help="postgres: the schema to extract (default: public)")
    parser.add_argument("--no-discover", action="store_true", help="postgres: write the stub without discovery")
    args = parser.parse_args(argv)
    if not NAME.match(args.name) or args.name in RESERVED:
        parser.error(
            f"NAME={args.name!r}: use 2-31 lower case letters, digits or _, starting with a letter (not remove)"
        )
    if args.entity and not NAME.match(args.entity):
        parser.error(f"--entity {args.entity!r}: use lower case letters, digits or _, starting with a letter")
    written = (
        REPO / "meltano" / "sources" / f"{args.name}.meltano.yml",
        REPO / "dbt" / "models" / "staging" / args.name,
    )
    existing = [str(p.relative_to(REPO)) for p in written if p.exists()]
    if existing:
        print(f"error: source '{args.name}' exists already ({', '.join(existing)}); nothing written", file=sys.stderr)
        return 1
    entity, key = args.entity or args.name, args.key or "id"
    tables = None
    if args.kind == "postgres" and not args.no_discover:
        print(
            f"discovering schema {args.schema} of source '{args.name}' "
            "(tap-baton-postgres --discover in the jobs image)"
        )
        try:
            tables = tables_from_catalog(discover(args.name, args.schema), args.schema, args.entity)
        except Unreachable as exc:
            print(
                f"could not reach source '{args.name}': {exc}\nwriting the stub without discovery ({entity}, key {key})"
            )
        else:
            if not tables:
                what = f"table {args.schema}.{args.entity}" if args.entity else f"table in schema {args.schema}"
                print(f"error: discovery found no {what} in source '{args.name}'; nothing written", file=sys.stderr)
                return 1
            for t in tables:
                how = f"INCREMENTAL by {t.replication_key}" if t.replication_key else "FULL_TABLE"
                print(f"  {args.schema}.{t.name}: key [{', '.join(t.keys)}], {how}, {len(t.columns)} columns")
    files = plan(args.name, args.kind, entity, key, args.schema, tables=tables)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    print(next_steps(args.name, args.kind, tables or [Table(name=entity)], discovered=bool(tables)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
