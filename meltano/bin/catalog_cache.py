"""The ingestion job's catalog of a Postgres source, kept from one run to the next (meltano/bin/el.py).

Before every `meltano run`, Meltano starts the extractor once to discover the source's tables and
applies the source file's select and metadata rules to what it found: a second process start and a
read of the database's catalog, about a third of a load that has little to move. Nothing in that
catalog changes unless the source's tables, the Meltano project or the extractor do, so the job keeps
the catalog a run used, in Meltano's system database (table `baton_catalogs`), under a fingerprint of
all three:

- the source database's tables as the extractor sees them: every column of every table and view
  outside Postgres' own schemas (its position, name, type with modifiers, NOT NULL, comment), the
  tables' comments, primary and unique constraints, enum labels. One query;
- the Meltano project: its YAML files (meltano.yml, plugins/, sources/), the active environment,
  the extractor's environment variables (`TAP_<SOURCE>_...`, and its parent plugin's) and those
  the YAML files refer to;
- the extractor's code: Meltano's version, the distributions installed in the extractor's
  virtualenv, the source files of the kit's own packages (packages/).

When the fingerprint matches, the kept catalog is handed to Meltano as the extractor's catalog
(`TAP_<SOURCE>__CATALOG`) and discovery is skipped; otherwise Meltano discovers as usual and the
catalog it wrote for the run is kept after the run succeeds. A column added at the source, a table
dropped, a changed selection or an image with another extractor: the next run discovers again. Sources of other kinds
(files) always discover. Where the source file or the environment sets the extractor's catalog
itself, nothing is kept. BATON_EL_CATALOG_CACHE=off turns it off.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from baton_contract.declaration import Declaration
from baton_contract.naming import plugins

# The columns, constraints, comments and enum labels the extractor's discovery reads, as lines.
SOURCE_SCHEMA_SQL = r"""
with rels as (
    select c.oid, c.relkind, n.nspname, c.relname
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'v', 'm', 'f')
      and n.nspname not in ('pg_catalog', 'information_schema')
      and n.nspname not like 'pg\_toast%' and n.nspname not like 'pg\_temp%'
)
select md5(coalesce(string_agg(line, E'\n' order by line), '')) from (
    select format('column %I.%I %s %s %I %s %s %s', r.nspname, r.relname, r.relkind, a.attnum, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, coalesce(col_description(r.oid, a.attnum), ''))
    from rels r join pg_attribute a on a.attrelid = r.oid
    where a.attnum > 0 and not a.attisdropped
    union all
    select format('table %I.%I %s', r.nspname, r.relname, coalesce(obj_description(r.oid, 'pg_class'), ''))
    from rels r
    union all
    select format('constraint %I.%I %I %s', r.nspname, r.relname, k.conname, pg_get_constraintdef(k.oid))
    from rels r join pg_constraint k on k.conrelid = r.oid
    where k.contype in ('p', 'u')
    union all
    select format('enum %s %s %s', e.enumtypid::regtype, e.enumsortorder, e.enumlabel) from pg_enum e
) as lines(line)
"""
TABLE = "baton_catalogs"
_ENV_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _env_prefix(plugin: str) -> str:
    """The prefix of a plugin's settings in the environment, as Meltano reads them: tap-shop -> TAP_SHOP_."""
    return plugin.upper().replace("-", "_") + "_"


def catalog_variable(source: str) -> str:
    """The environment variable of the extractor's `catalog` extra: TAP_SHOP__CATALOG."""
    return _env_prefix(plugins(source)[0]) + "_CATALOG"


def applies(decl: Declaration, environ: Mapping[str, str]) -> bool:
    """Whether the job keeps the source's catalog: a Postgres source whose catalog nobody set."""
    if environ.get("BATON_EL_CATALOG_CACHE", "on").lower() in ("off", "0", "false", "no"):
        return False
    return (
        decl.kind == "postgres" and "catalog" not in decl.extractor and not environ.get(catalog_variable(decl.source))
    )


def project_fingerprint(decl: Declaration, project: Path, environ: Mapping[str, str]) -> str:
    """What in the project, its environment and the extractor's code shapes the catalog, as a digest."""
    digest = hashlib.sha256(b"baton catalog v1\n")
    files = [
        project / "meltano.yml",
        *sorted(project.glob("plugins/**/*.yml")),
        *sorted(project.glob("sources/**/*.yml")),
    ]
    referenced: set[str] = set()
    for path in files:
        if path.is_file():
            text = path.read_bytes()
            digest.update(f"file {path.relative_to(project)}\n".encode() + text)
            referenced |= set(_ENV_REFERENCE.findall(text.decode(errors="replace")))
    base = decl.extractor.get("inherit_from") or plugins(decl.source)[0]
    # The extractor's settings from the environment: by its name (TAP_SHOP_...) or its parent's.
    prefixes = tuple({_env_prefix(name) for name in (plugins(decl.source)[0], base)})
    for name in sorted(environ):
        if name.startswith(prefixes) or name in referenced or name == "MELTANO_ENVIRONMENT":
            digest.update(f"env {name}={environ[name]}\n".encode())
    digest.update(f"meltano {_version('meltano')}\n".encode())
    for dist in sorted(project.glob(f".meltano/extractors/{base}/venv/lib/python*/site-packages/*.dist-info")):
        digest.update(f"dist {dist.name}\n".encode())
    for path in sorted(project.glob("packages/**/*.py")):
        digest.update(f"code {path.relative_to(project)}\n".encode() + path.read_bytes())
    return digest.hexdigest()


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def source_fingerprint(url: str) -> str:
    """The digest of the source database's tables as discovery reads them (SOURCE_SCHEMA_SQL)."""
    import psycopg

    with psycopg.connect(url, connect_timeout=10) as conn:
        return conn.execute(SOURCE_SCHEMA_SQL).fetchone()[0]


def fingerprint(decl: Declaration, project: Path, environ: Mapping[str, str], url: str) -> str:
    return hashlib.sha256(
        f"{project_fingerprint(decl, project, environ)} {source_fingerprint(url)}".encode()
    ).hexdigest()


def kept(system: Any, tap: str, fingerprint: str) -> str | None:
    """The catalog kept for `tap` under this fingerprint, or None."""
    if not system.execute("select to_regclass(%s) is not null", (TABLE,)).fetchone()[0]:
        return None
    row = system.execute(
        f"select catalog from {TABLE} where tap = %s and fingerprint = %s", (tap, fingerprint)
    ).fetchone()
    return row[0] if row else None


def keep(system: Any, tap: str, fingerprint: str, catalog: str) -> None:
    """Keep the catalog a successful run of `tap` used, in place of the one kept before."""
    streams = json.loads(catalog).get("streams")
    if not isinstance(streams, list):
        raise ValueError("not a Singer catalog: no list of streams")
    system.execute(
        f"create table if not exists {TABLE} (tap text primary key, fingerprint text not null, "
        "catalog text not null, kept_at timestamptz not null default now())"
    )
    system.execute(
        f"insert into {TABLE} (tap, fingerprint, catalog) values (%s, %s, %s) on conflict (tap) do update "
        "set fingerprint = excluded.fingerprint, catalog = excluded.catalog, kept_at = now()",
        (tap, fingerprint, catalog),
    )


def run_catalog(project: Path, tap: str) -> Path:
    """Where Meltano writes the catalog it hands the extractor in a run."""
    return project / ".meltano" / "run" / tap / "tap.properties.json"
