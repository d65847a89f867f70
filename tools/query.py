"""Read-only SQL on the local warehouse: analytics.duckdb plus every raw_<source>.duckdb attached.

    BATON_QUERY_SQL='select ...' python tools/query.py     (the way `make query SQL=...` passes it:
                                                           never through a shell, so $(...),
                                                           backticks and quotes reach DuckDB as is)
    python tools/query.py [SQL]                             (default: row counts of every table)

Read-only for real: every file is opened or attached READ_ONLY (with no analytics.duckdb yet, the
first raw file is the main database: there is no writable fallback), then DuckDB's access to
anything else is switched off (enable_external_access=false: no COPY TO, no ATTACH of another
file, no read_csv of /etc/passwd, no extension installs) and the configuration locked, before the
SQL runs. Run it with the dbt environment's Python (.venvs/dbt), which has DuckDB; `make query` does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb

COUNTS = """
select database_name as database, schema_name as schema, table_name as "table", estimated_size as rows
from duckdb_tables() where not temporary order by all
"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A connection that can read the warehouse files and nothing else, and write nothing."""
    analytics = warehouse / "analytics.duckdb"
    raws = sorted(warehouse.glob("raw_*.duckdb"))
    files = ([analytics] if analytics.exists() else []) + raws
    if not files:
        raise FileNotFoundError(f"no DuckDB files in {warehouse}")
    main, others = files[0], files[1:]
    conn = duckdb.connect(str(main), read_only=True)
    try:
        for path in others:
            conn.execute(f"attach {_quote(str(path))} as {_ident(path.stem)} (read_only)")
        conn.execute("set enable_external_access = false")
        conn.execute("set lock_configuration = true")
    except BaseException:
        conn.close()
        raise
    return conn


def main(argv: list[str]) -> int:
    warehouse = Path(os.environ.get("BATON_WAREHOUSE_DIR", ".baton/data/warehouse"))
    if not any(warehouse.glob("*.duckdb")):
        print(f"error: no DuckDB files in {warehouse}; load a source first (make el SOURCE=shop)", file=sys.stderr)
        return 1
    sql = (os.environ.get("BATON_QUERY_SQL") or " ".join(argv)).strip()
    try:
        with connect(warehouse) as conn:
            if not sql:
                # estimated_size is an estimate: count each table exactly.
                print(f"{'database':<16} {'schema':<12} {'table':<24} {'rows':>10}")
                for db, schema, table, _ in conn.execute(COUNTS).fetchall():
                    (n,) = conn.execute(
                        f"select count(*) from {_ident(db)}.{_ident(schema)}.{_ident(table)}"
                    ).fetchone()
                    print(f"{db:<16} {schema:<12} {table:<24} {n:>10}")
            else:
                relation = conn.sql(sql)
                if relation is not None:
                    relation.show(max_rows=200)
    except duckdb.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
