"""Read-only SQL on the local warehouse: analytics.duckdb plus every raw_<source>.duckdb attached.

    python tools/query.py [SQL]      (default: row counts of every table)
Run it with the dbt environment's Python (.venvs/dbt), which has DuckDB; `make query` does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb

COUNTS = """
select database_name as database, schema_name as schema, table_name as "table", estimated_size as rows
from duckdb_tables() order by all
"""


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    analytics = warehouse / "analytics.duckdb"
    conn = duckdb.connect(str(analytics) if analytics.exists() else ":memory:", read_only=analytics.exists())
    for raw in sorted(warehouse.glob("raw_*.duckdb")):
        conn.execute(f"attach '{raw}' as {raw.stem} (read_only)")
    return conn


def main(argv: list[str]) -> int:
    warehouse = Path(os.environ.get("BATON_WAREHOUSE_DIR", ".baton/data/warehouse"))
    if not any(warehouse.glob("*.duckdb")):
        print(f"error: no DuckDB files in {warehouse}; load a source first (make el SOURCE=shop)", file=sys.stderr)
        return 1
    sql = " ".join(argv)
    try:
        with connect(warehouse) as conn:
            if not argv:
                # estimated_size is an estimate: count each table exactly.
                print(f"{'database':<16} {'schema':<12} {'table':<24} {'rows':>10}")
                for db, schema, table, _ in conn.execute(COUNTS).fetchall():
                    (n,) = conn.execute(f'select count(*) from "{db}"."{schema}"."{table}"').fetchone()
                    print(f"{db:<16} {schema:<12} {table:<24} {n:>10}")
            else:
                conn.sql(sql).show(max_rows=200)
    except duckdb.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
