"""The raw limit of extract-load: psycopg `COPY (...) TO STDOUT` into CSV files, then DuckDB
`read_csv`, with no Singer in between. Run as a child process, so its memory is measured:

    python -m benchmarks.raw_limit '{"shop_url": ..., "duckdb": ..., "folder": ..., "since": ...}'
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

from benchmarks.harness import TABLES


def raw_worker(spec: dict) -> None:
    import duckdb
    import psycopg

    folder = Path(spec["folder"])
    with psycopg.connect(spec["shop_url"]) as pg, duckdb.connect(spec["duckdb"]) as db:
        db.execute("create schema if not exists shop")
        for table, key in TABLES.items():
            where = f"where updated_at >= '{spec['since'][table]}'" if spec.get("since") else ""
            path = folder / f"{table}-{uuid.uuid4().hex[:6]}.csv"
            with (
                path.open("wb") as fh,
                pg.cursor().copy(f"copy (select * from shop.{table} {where}) to stdout (format csv)") as copy,
            ):
                for chunk in copy:
                    fh.write(chunk)
            cols = pg.execute(
                "select column_name, case when data_type = 'numeric' then format('decimal(%%s,%%s)', "
                "numeric_precision, numeric_scale) when data_type like 'timestamp with%%' then 'timestamptz' "
                "else data_type end from information_schema.columns where table_schema = 'shop' and table_name = %s "
                "order by ordinal_position",
                (table,),
            ).fetchall()
            columns = "{" + ", ".join(f"'{c}': '{t}'" for c, t in cols) + "}"
            read = f"read_csv('{path}', header = false, columns = {columns}, allow_quoted_nulls = false)"
            if spec.get("since"):
                db.execute(f"delete from shop.{table} where {key} in (select {key} from {read})")
                db.execute(f"insert into shop.{table} select * from {read}")
            else:
                db.execute(f"create or replace table shop.{table} as select * from {read}")
            path.unlink()


if __name__ == "__main__":
    raw_worker(json.loads(sys.argv[1]))
