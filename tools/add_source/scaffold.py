"""What the scaffold writes: every file of a new source, as path -> text, and what to do next."""

from __future__ import annotations

from pathlib import Path

from baton_contract.naming import ingest_dag, plugins, raw_file, raw_name

from .model import REPO, Table, raw_column, singular, sql_name
from .templates import DBT_SOURCES, FILES, LOADER, POSTGRES, STAGING_SQL, STAGING_YML


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
    # No tests here: the key's unique and not_null live on the staging model (a 1:1 view of the
    # table), and every load already reconciles raw with the source (no key twice).
    return f"      - name: {t.raw}\n"


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
    extractor, loader = plugins(name)
    tables = tables or [Table(name=entity, keys=[key], replication_key="updated_at")]
    values = {
        "name": name,
        "raw": raw_name(name),
        "raw_file": raw_file(name),
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
            f"     Then `make remove-source NAME={name}` and `make add-source` again to scaffold it\n"
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
        f"     its DAG is scheduled on {raw_name(name)} as soon as one of its models reads a stg_ model of it.\n"
        f"  4. make bake && make up   ({ingest_dag(name)} appears, triggered by the daily cycle)"
    )
