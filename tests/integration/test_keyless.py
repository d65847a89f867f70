"""Tables without a primary key, through the real extractor (tap-baton-postgres) and the real loader
(target-baton-duckdb), on a real Postgres: both paths (RECORD messages, and COPY files announced
by BATCH messages), FULL_TABLE and INCREMENTAL, over three days.

The table is a CRM's contacts list without a key: exact duplicate rows, several rows per
`updated_at` value, and every day rows inserted exactly at the bookmark (the inclusive re-read
brings them along with the rows loaded the day before). Each day raw holds exactly the source's
rows, duplicates as many times as the source has them, and the ingestion job's reconciliation
(meltano/bin/el.py) finds no mismatch. The extractor's messages reach the loader as Meltano hands
them over, and the loader's last STATE is the next day's state.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import el
import psycopg
import pytest

from tests.integration.conftest import pg_url
from tests.integration.test_fast_path import Extractor, _require_plugin, select
from tests.unit.loader_run import Loader

STREAM = "crm-contacts"
COLUMNS = "email, full_name, score, tags, ref, updated_at"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DDL = """
create schema crm;
create table crm.contacts (
    email      text,
    full_name  text,
    score      numeric(5,1),
    tags       text[],
    ref        uuid,
    updated_at timestamptz
);
"""
INSERT = f"insert into crm.contacts ({COLUMNS}) values (%s, %s, %s, %s, %s, %s)"


def contact(i: int, updated_at: datetime) -> tuple:
    tags = [None, [], ["vip"], ["a b", 'q"uote', "ünï"]][i % 4]
    return (
        f"c{i}@example.com",
        f"Contact {i}" if i % 7 else "",
        Decimal(i % 9999) / 10,
        tags,
        uuid.uuid5(uuid.NAMESPACE_DNS, f"c{i}"),
        updated_at,
    )


class Crm:
    """A database `crm_<id>` on the test Postgres server, with the key-less crm.contacts."""

    def __init__(self, server, tmp_path: Path):
        self.name = f"crm_{uuid.uuid4().hex[:8]}"
        admin = pg_url(server, "shop")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'create database "{self.name}"')
        self.url = pg_url(server, self.name)
        self.execute(DDL)
        self.next_id = 0

    def execute(self, sql: str, params: tuple | None = None) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql, params)

    def insert(self, rows: list[tuple]) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn, conn.cursor() as cur:
            cur.executemany(INSERT, rows)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()

    def new(self, n: int, updated_at: datetime | list[datetime]) -> list[tuple]:
        times = updated_at if isinstance(updated_at, list) else [updated_at] * n
        rows = [contact(self.next_id + k, times[k]) for k in range(n)]
        self.next_id += n
        return rows

    def newest(self) -> datetime:
        return self.query("select max(updated_at) from crm.contacts")[0][0]

    def day_one(self) -> None:
        """500 rows: 490 distinct, three per minute, and 10 exact duplicates of the newest ones
        (the rows at the bookmark among them)."""
        rows = self.new(490, [T0 + timedelta(minutes=i // 3) for i in range(490)])
        self.insert(rows + rows[-10:])

    def next_day(self) -> None:
        """Rows exactly at the bookmark (one of them an exact duplicate of a row already there),
        and five newer rows, the newest of them twice."""
        bookmark = self.newest()
        (at_bookmark,) = self.query(f"select {COLUMNS} from crm.contacts where updated_at = %s limit 1", (bookmark,))
        later = self.new(5, [bookmark + timedelta(minutes=m) for m in (1, 2, 3, 4, 4)])
        self.insert([at_bookmark, *self.new(1, bookmark), *later, later[-1]])


def _normal(row: tuple) -> tuple:
    """A row of either side, comparable: tags as a tuple (raw holds them as JSON text)."""
    email, full_name, score, tags, ref, updated_at = row
    if isinstance(tags, str):
        tags = json.loads(tags)
    return (email, full_name, score, tuple(tags) if tags is not None else None, ref, updated_at)


def rows_of(rows: list[tuple]) -> Counter:
    return Counter(_normal(r) for r in rows)


@pytest.fixture
def crm(shop_db, tmp_path: Path) -> Crm:
    _require_plugin()
    return Crm(shop_db, tmp_path)


@pytest.mark.parametrize("method", ["INCREMENTAL", "FULL_TABLE"])
@pytest.mark.parametrize("path", ["records", "copy"])
def test_a_table_without_key_equals_the_source_every_day(
    crm: Crm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, method: str
) -> None:
    incremental = method == "INCREMENTAL"
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    monkeypatch.setenv("BATON_WAREHOUSE_DIR", str(warehouse))
    ex = Extractor(crm.url, tmp_path, filter_schemas=["crm"], export_mode=path, batch_size_rows=200)
    discovered = ex.discover()
    (entry,) = [s for s in discovered["streams"] if s["tap_stream_id"] == STREAM]
    properties = entry["schema"]["properties"]
    assert entry.get("key_properties") in (None, [])
    assert properties["ref"] == {"type": ["string", "null"], "format": "uuid"}
    catalog = select(discovered, {STREAM: "updated_at" if incremental else None})
    # Batches of 100 rows on the record path: day one's 500 rows are five commits.
    loader = Loader(tmp_path, default_target_schema="crm", add_metadata_columns=True, batch_size_rows=100)
    loader.db = warehouse / "raw_crm.duckdb"
    loader.config["path"] = str(loader.db)
    decl = el.Declaration(
        source="crm",
        kind="postgres",
        reconcile="fail",
        extractor={"config": {"sqlalchemy_url": crm.url}},
        path=tmp_path / "crm.meltano.yml",
        secrets=[],
        folders={},
    )

    crm.day_one()
    state: dict | None = None
    for day in (1, 2, 3):
        if day > 1:
            crm.next_day()
            if not incremental:
                # A full read also sees changes and deletions: one row changed, one copy of a
                # duplicate pair removed.
                crm.execute(
                    "update crm.contacts set score = 99.9, updated_at = %s where email = 'c5@example.com'",
                    (crm.newest(),),
                )
                crm.execute(
                    "delete from crm.contacts where ctid = "
                    "(select ctid from crm.contacts where email = 'c489@example.com' limit 1)"
                )
        raw_before = loader.query("select count(*) from crm.contacts")[0][0] if day > 1 else 0
        at_bookmark = 0
        if state and incremental:
            start = state["bookmarks"][STREAM]["replication_key_value"]
            sql = "select count(*) from crm.contacts where updated_at >= ?::timestamptz"
            at_bookmark = loader.query(sql, [start])[0][0]
            assert at_bookmark >= 2  # the bookmark's rows, exact duplicates among them

        run = ex.run(catalog, state=state)
        if path == "copy":
            assert run.of("BATCH", STREAM) and not run.of("RECORD", STREAM), run.log[-3000:]
            assert "falls back to the record path" not in run.log
            delivered = len(run.csv_rows(STREAM))
        else:
            assert run.of("RECORD", STREAM) and not run.of("BATCH", STREAM)
            delivered = len(run.of("RECORD", STREAM))
        result = loader.run(run.messages)
        state = result.states[-1]

        # raw = source, row for row, duplicates as many times as the source has them; exact types.
        source_rows = crm.query(f"select {COLUMNS} from crm.contacts")
        raw_rows = loader.query(f"select {COLUMNS} from crm.contacts")
        assert len(raw_rows) == len(source_rows), f"day {day}"
        assert rows_of(raw_rows) == rows_of(source_rows), f"day {day}"
        types = loader.types("crm.contacts")
        assert (types["score"], types["tags"], types["ref"], types["updated_at"]) == (
            "DECIMAL(5,1)",
            "JSON",
            "UUID",
            "TIMESTAMP WITH TIME ZONE",
        )

        # What the loader did: it replaced the re-read window (INCREMENTAL: the rows at the
        # bookmark, re-read) or the whole table (FULL_TABLE), and nothing else.
        summary = result.summaries[STREAM]
        assert summary["rows"] == summary["inserted"] == delivered
        if incremental:
            assert summary["deleted"] == at_bookmark
            assert delivered == (500 if day == 1 else at_bookmark + 8)
            bookmark = datetime.fromisoformat(state["bookmarks"][STREAM]["replication_key_value"])
            assert bookmark == crm.newest()
        else:
            assert summary["deleted"] == raw_before
            assert delivered == len(source_rows)
        assert summary["schema_changes"] == []

        # The ingestion job's reconciliation agrees.
        figures = el.reconcile(decl, el.Load(rows=summary["rows"], read={}, loaded={STREAM: summary}))
        assert figures[STREAM]["raw"] == figures[STREAM]["expected"] == len(source_rows), figures
        assert el.mismatches(figures) == []

    # One row appended twice in raw (what a loader that appends at an inclusive bookmark does):
    # the reconciliation fails, saying which side has more.
    with duckdb.connect(str(loader.db)) as conn:
        conn.execute("insert into crm.contacts select * from crm.contacts limit 1")
    (problem,) = el.mismatches(el.reconcile(decl, el.Load(rows=0, read={}, loaded={})))
    assert problem.startswith(f"{STREAM}: raw has 1 row(s) more than the source"), problem
