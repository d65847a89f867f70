"""The Postgres extractor's COPY path (tap-baton-postgres, `export_mode: copy`) on a real Postgres.

The extractor runs from its Meltano plugin venv, directly (`--discover`, `--catalog`, `--state`),
and its Singer output is checked: BATCH messages with Parquet or CSV files (`copy_format`), then
STATE at the snapshot's maximum, the same state as the record path. The end-to-end tests run Meltano: tap-shop into
target-raw-shop (the project's loader, target-baton-duckdb), full and incremental.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import psycopg
import pytest
import yaml

from tests.conftest import REPO
from tests.integration.conftest import pg_url
from tests.integration.datapath import DataPath

PLUGIN = REPO / "meltano" / ".meltano" / "extractors" / "tap-baton-postgres" / "venv" / "bin" / "tap-baton-postgres"
LOADER = "target-baton-duckdb"  # the project's loader, which reads BATCH files
ORDERS = 2500
SHOP_STREAMS = ("shop-customers", "shop-products", "shop-orders")


# --- running the extractor -------------------------------------------------------------------------
def _require_plugin() -> None:
    if not PLUGIN.exists():
        raise RuntimeError(f"{PLUGIN} is missing: run `make setup` (meltano install) first")


class Run:
    """One extractor run: its Singer messages (in order) and its log."""

    def __init__(self, stdout: str, stderr: str, returncode: int):
        self.messages = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        self.log = stderr
        self.returncode = returncode

    def of(self, kind: str, stream: str | None = None) -> list[dict]:
        return [m for m in self.messages if m["type"] == kind and (stream is None or m.get("stream") == stream)]

    @property
    def last_state(self) -> dict:
        return self.of("STATE")[-1]["value"]

    def bookmark(self, stream: str) -> str:
        return self.last_state["bookmarks"][stream]["replication_key_value"]

    def files(self, stream: str) -> list[Path]:
        return [Path(urlparse(uri).path) for m in self.of("BATCH", stream) for uri in m["manifest"]]

    def csv_rows(self, stream: str) -> list[str]:
        return [line for f in self.files(stream) for line in f.read_text().splitlines()]

    def keys(self, stream: str, key: str) -> list[int]:
        """Primary key values delivered for `stream`, from BATCH files or RECORD messages."""
        batches = self.of("BATCH", stream)
        if batches and batches[0]["encoding"]["format"] == "parquet":
            with duckdb.connect() as conn:
                files = [str(f) for f in self.files(stream)]
                return [k for (k,) in conn.execute(f"select {key} from read_parquet(?)", [files]).fetchall()]
        if batches:
            index = batches[0]["columns"].index(key)
            return [int(line.split(",")[index]) for line in self.csv_rows(stream)]
        return [m["record"][key] for m in self.of("RECORD", stream)]


class Extractor:
    def __init__(self, url: str, work: Path, **config):
        self.work = work
        self.config = {"sqlalchemy_url": url, "batch_dir": str(work / "batches"), **config}

    def _write(self, name: str, data: dict) -> Path:
        path = self.work / f"{name}-{uuid.uuid4().hex[:6]}.json"
        path.write_text(json.dumps(data))
        return path

    def args(self, catalog: dict, state: dict | None = None, **config) -> list[str]:
        args = [str(PLUGIN), "--config", str(self._write("config", {**self.config, **config}))]
        args += ["--catalog", str(self._write("catalog", catalog))]
        if state:
            args += ["--state", str(self._write("state", state))]
        return args

    def discover(self, **config) -> dict:
        args = [str(PLUGIN), "--config", str(self._write("config", {**self.config, **config})), "--discover"]
        result = subprocess.run(args, capture_output=True, text=True, check=True)
        return json.loads(result.stdout)

    def run(self, catalog: dict, state: dict | None = None, check: bool = True, **config) -> Run:
        result = subprocess.run(self.args(catalog, state, **config), capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"tap-baton-postgres failed ({result.returncode}):\n{result.stderr[-6000:]}")
        return Run(result.stdout, result.stderr, result.returncode)


def select(catalog: dict, streams: dict[str, str | None], method: str = "INCREMENTAL") -> dict:
    """`catalog` with only `streams` selected: stream -> replication key (None: FULL_TABLE)."""
    chosen = []
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] not in streams:
            continue
        key = streams[entry["tap_stream_id"]]
        stream_method = method if key or method == "LOG_BASED" else "FULL_TABLE"
        entry["replication_method"] = stream_method
        entry["replication_key"] = key
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"].update({"selected": True, "replication-method": stream_method})
                if key:
                    md["metadata"]["replication-key"] = key
            else:
                md["metadata"]["selected"] = True
        chosen.append(entry)
    return {"streams": chosen}


def shop_catalog(ex: Extractor) -> dict:
    return select(ex.discover(filter_schemas=["shop"]), dict.fromkeys(SHOP_STREAMS, "updated_at"))


def source(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


# --- fixtures --------------------------------------------------------------------------------------
@pytest.fixture
def shop(shop_db, tmp_path: Path) -> tuple[DataPath, Extractor]:
    _require_plugin()
    dp = DataPath(
        shop_url=pg_url(shop_db, "shop"),
        meltano_url="",
        warehouse=tmp_path / "warehouse",
        marketing=tmp_path / "marketing",
    )
    dp.seed(ORDERS)
    # parquet_min_rows 0: every export takes the format asked for, however few its rows.
    return dp, Extractor(
        dp.shop_url, tmp_path, filter_schemas=["shop"], export_mode="copy", batch_size_rows=1000, parquet_min_rows=0
    )


TYPES_DDL = """
drop schema if exists fastpath cascade;
create schema fastpath;
create table fastpath.typed (
    id         bigint primary key,
    amount     numeric(12,2),
    ratio      numeric,
    score      double precision,
    qty        integer,
    happened   timestamptz,
    day        date,
    note       text,
    doc        jsonb,
    flag       boolean,
    updated_at timestamptz not null
);
insert into fastpath.typed values
    (1, 12.30, 0.125, 1.5, 7, '2026-01-01 12:00:00.123+02', '2026-01-01', '', '{"a": [1, "x"]}', true,
     '2026-01-02 00:00:00+00'),
    (2, -0.01, null, null, null, null, null, null, null, null, '2026-01-02 00:00:01+00'),
    (3, 9999999999.99, 1e-20, -2.25, 0, 'infinity', '2026-02-28', 'a "quoted",
two-line value', 'null', false, '2026-01-02 00:00:02+00');
create table fastpath.tagged (
    id integer primary key, tags integer[], span interval, updated_at timestamptz not null
);
insert into fastpath.tagged values (1, '{1,2}', '1 day', '2026-01-01'), (2, null, null, '2026-01-02');
"""


@pytest.fixture
def typed(shop_db, tmp_path: Path):
    _require_plugin()
    url = pg_url(shop_db, "shop")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TYPES_DDL)
    yield url, Extractor(url, tmp_path, filter_schemas=["fastpath"], export_mode="copy", parquet_min_rows=0)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists fastpath cascade")


# --- the extractor alone ---------------------------------------------------------------------------
def test_discovery_annotates_decimals_and_keeps_the_stock_types(typed) -> None:
    _, ex = typed
    catalog = ex.discover()
    props = next(s for s in catalog["streams"] if s["tap_stream_id"] == "fastpath-typed")["schema"]["properties"]
    assert props["amount"] == {"type": ["number", "null"], "x-sql-datatype": "decimal(12,2)"}
    assert "x-sql-datatype" not in props["ratio"] and "x-sql-datatype" not in props["score"]
    assert props["id"]["type"] == ["integer"] and props["qty"]["type"] == ["integer", "null"]
    assert props["happened"] == {"type": ["string", "null"], "format": "date-time"}
    assert props["day"] == {"type": ["string", "null"], "format": "date"}
    assert set(props["doc"]["type"]) >= {"object", "array", "string"}
    assert props["flag"]["type"] == ["boolean", "null"]
    # json_as_object: the stock tap's object typing, still annotated where it applies.
    props = next(s for s in ex.discover(json_as_object=True)["streams"] if s["tap_stream_id"] == "fastpath-typed")
    assert props["schema"]["properties"]["doc"]["type"] == ["object", "null"]


@pytest.mark.parametrize("copy_format", ["parquet", "csv"])
def test_full_export_batches_then_state_with_every_row(shop, copy_format: str) -> None:
    dp, ex = shop
    ex.config["copy_format"] = copy_format
    catalog = shop_catalog(ex)
    run = ex.run(catalog)

    for stream, table, key in (
        ("shop-customers", "customers", "customer_id"),
        ("shop-products", "products", "product_id"),
        ("shop-orders", "orders", "order_id"),
    ):
        batches = run.of("BATCH", stream)
        assert batches, stream
        for batch in batches:
            assert batch["encoding"] == {"format": copy_format, "compression": "none"}
            if copy_format == "csv":  # Parquet names its columns itself
                assert batch["columns"] == list(next(m for m in run.of("SCHEMA", stream))["schema"]["properties"])
            assert all(uri.startswith("file:///") for uri in batch["manifest"])
        keys = run.keys(stream, key)
        assert sorted(keys) == sorted(k for (k,) in dp.source(f"select {key} from shop.{table}")), stream
        assert len(keys) == len(set(keys))
        # The stream's STATE comes after its last BATCH and carries the source's maximum.
        positions = [i for i, m in enumerate(run.messages) if m.get("stream") == stream and m["type"] == "BATCH"]
        state_at = next(
            i for i, m in enumerate(run.messages) if m["type"] == "STATE" and stream in m["value"]["bookmarks"]
        )
        assert state_at > max(positions), stream
        (newest,) = dp.source(f"select max(updated_at) from shop.{table}")[0]
        assert datetime.fromisoformat(run.bookmark(stream)) == newest
    # 2,500 rows in CSV files of at most 1,000 rows; Parquet's of about that many, at least a DuckDB
    # vector (2,048) each.
    files = len(run.of("BATCH", "shop-orders"))
    assert files == 3 if copy_format == "csv" else files >= 2
    assert not run.of("RECORD")
    assert '"metric":"record_count","value":2500' in run.log.replace(" ", "")
    assert f"Exported 2500 rows of 'shop-orders' in {files} {copy_format} file(s)" in run.log

    # The record path ends at the very same state: either path can continue from the other.
    records = ex.run(catalog, export_mode="records")
    assert not records.of("BATCH") and len(records.of("RECORD", "shop-orders")) == ORDERS
    assert records.last_state == run.last_state


@pytest.mark.parametrize("copy_format", ["parquet", "csv"])
def test_incremental_moves_only_new_and_changed_rows(shop, copy_format: str) -> None:
    dp, ex = shop
    ex.config["copy_format"] = copy_format
    catalog = shop_catalog(ex)
    full = ex.run(catalog)
    bookmark = full.bookmark("shop-orders")

    dp.next_day(new_pct=1)
    expected = {k for (k,) in dp.source("select order_id from shop.orders where updated_at >= %s", (bookmark,))}
    (new_orders,) = dp.source("select count(*) from shop.orders where order_id > %s", (ORDERS,))[0]
    assert new_orders == ORDERS // 100 and len(expected) > new_orders

    incr = ex.run(catalog, state=full.last_state)
    moved = incr.keys("shop-orders", "order_id")
    assert sorted(moved) == sorted(expected)
    assert len(moved) < ORDERS * 0.05
    (newest,) = dp.source("select max(updated_at) from shop.orders")[0]
    assert datetime.fromisoformat(incr.bookmark("shop-orders")) == newest > datetime.fromisoformat(bookmark)
    assert "from " + bookmark in incr.log  # it started at the bookmark it was given

    # The record path from the same state moves the same rows and ends at the same state.
    records = ex.run(catalog, state=full.last_state, export_mode="records")
    assert sorted(records.keys("shop-orders", "order_id")) == sorted(expected)
    assert records.last_state == incr.last_state


def test_csv_carries_exact_values_by_the_contract(typed) -> None:
    url, ex = typed
    catalog = select(ex.discover(), {"fastpath-typed": "updated_at"})
    run = ex.run(catalog, copy_format="csv")
    (schema,) = run.of("SCHEMA", "fastpath-typed")
    assert schema["schema"]["properties"]["amount"]["x-sql-datatype"] == "decimal(12,2)"
    (batch,) = run.of("BATCH", "fastpath-typed")
    columns = batch["columns"]
    assert columns == ["id", "amount", "ratio", "score", "qty", "happened", "day", "note", "doc", "flag", "updated_at"]
    raw = run.files("fastpath-typed")[0].read_text()
    assert raw.splitlines()[0] == (
        '1,12.30,0.125,1.5,7,2026-01-01 10:00:00.123+00,2026-01-01,"","{""a"": [1, ""x""]}",t,2026-01-02 00:00:00+00'
    )
    # NULL is an unquoted empty field, the empty string is "" (row 1 above).
    assert raw.splitlines()[1] == "2,-0.01,,,,,,,,,2026-01-02 00:00:01+00"
    assert ',infinity,2026-02-28,"a ""quoted"",\ntwo-line value",null,f,' in raw

    # Read back by the schema's types (what the loader does): exact decimals, UTC instants.
    types = {
        "id": "BIGINT",
        "amount": "DECIMAL(12,2)",
        "ratio": "VARCHAR",
        "score": "DOUBLE",
        "qty": "INTEGER",
        "happened": "TIMESTAMPTZ",
        "day": "DATE",
        "note": "VARCHAR",
        "doc": "JSON",
        "flag": "BOOLEAN",
        "updated_at": "TIMESTAMPTZ",
    }
    with duckdb.connect() as conn:
        conn.execute("set timezone = 'UTC'")
        rows = conn.execute(
            "select id, amount, note, doc::varchar, flag, happened from read_csv(?, header = false, "
            "columns = ?, quote = '\"', escape = '\"', allow_quoted_nulls = false) order by id",
            [str(run.files("fastpath-typed")[0]), types],
        ).fetchall()
    assert [r[1] for r in rows] == [Decimal("12.30"), Decimal("-0.01"), Decimal("9999999999.99")]
    assert [r[2] for r in rows] == ["", None, 'a "quoted",\ntwo-line value']
    assert rows[0][3] == '{"a": [1, "x"]}' and rows[1][3] is None and rows[2][3] == "null"
    assert rows[0][5] == datetime(2026, 1, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert source(url, "select count(*) from fastpath.typed")[0][0] == len(rows) == 3


EXACT_DDL = """
create type fastpath.mood as enum ('calm', 'busy');
create table fastpath.exact (
    id bigint primary key, small smallint, qty integer, amount numeric(12,2), wide numeric(38,10),
    score double precision, happened timestamptz, local_time timestamp, day date, note text,
    code varchar(8), doc jsonb, raw json, flag boolean, uid uuid, mood fastpath.mood,
    updated_at timestamptz not null
);
insert into fastpath.exact values
    (1, -32768, 2147483647, 12.30, 1234567890123456789012345678.0123456789, 1.5,
     '2026-01-01 12:00:00.123456+02', '2026-01-01 12:00:00.5', '2026-01-01', '', 'ab', '{"a": [1, "x"]}',
     '{"b":  2}', true, '0f3c6a1e-2b4d-4e5f-8a9b-0c1d2e3f4a5b', 'busy', '2026-01-02 00:00:00+00'),
    (2, null, null, null, null, 'Infinity', 'infinity', '-infinity', '0044-03-15 BC', null, null, 'null',
     null, null, null, null, '2026-01-02 00:00:01+00'),
    (3, 0, 0, -0.01, -0.0000000001, -2.25, '2026-01-03 00:00:00+00', null, '2026-02-28',
     e'a "quoted",\ntwo-line value \\N', '', '[]', '"s"', false, null, 'calm', '2026-01-02 00:00:02+00');
"""

# Each column as Postgres prints it and as DuckDB does from the Parquet file, in UTC: the same text.
EXACT_TEXT = [
    "id",
    "small",
    "qty",
    "amount",
    "wide",
    "happened",
    "local_time",
    "note",
    "code",
    "doc",
    "raw",
    "uid",
    "mood",
]


def test_parquet_carries_exact_values_then_a_nan_goes_by_csv(typed) -> None:
    url, ex = typed
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(EXACT_DDL)
    catalog = select(ex.discover(), {"fastpath-exact": "updated_at"})
    run = ex.run(catalog)
    (batch,) = run.of("BATCH", "fastpath-exact")
    assert batch["encoding"] == {"format": "parquet", "compression": "none"}
    assert "is exported as CSV" not in run.log and "Parquet export failed" not in run.log

    text = ", ".join(f"{c}::text" for c in EXACT_TEXT)
    with psycopg.connect(url) as conn:
        conn.execute("set timezone = 'UTC'")
        expected = conn.execute(f"select {text}, day::text, score, flag from fastpath.exact order by id").fetchall()
    parquet = str(run.files("fastpath-exact")[0])
    with duckdb.connect() as conn:
        conn.execute("set TimeZone = 'UTC'")
        landed = conn.execute(
            f"select {text.replace('::text', '::varchar')}, day::varchar, score, flag from read_parquet(?) order by id",
            [parquet],
        ).fetchall()
        types = dict(
            conn.execute("select column_name, column_type from (describe from read_parquet(?))", [parquet]).fetchall()
        )
    assert [r[: len(EXACT_TEXT)] for r in landed] == [r[: len(EXACT_TEXT)] for r in expected]
    # Dates: DuckDB writes a BC date as `0044-03-15 (BC)`, Postgres as `0044-03-15 BC`.
    assert [r[len(EXACT_TEXT)] for r in landed] == [r[len(EXACT_TEXT)].replace(" BC", " (BC)") for r in expected]
    assert [r[-2:] for r in landed] == [r[-2:] for r in expected]  # doubles (Infinity too) and booleans
    assert (types["amount"], types["wide"], types["uid"], types["happened"]) == (
        "DECIMAL(12,2)",
        "DECIMAL(38,10)",
        "UUID",
        "TIMESTAMP WITH TIME ZONE",
    )
    assert datetime.fromisoformat(run.bookmark("fastpath-exact")) == datetime(2026, 1, 2, 0, 0, 2, tzinfo=UTC)

    # DuckDB's DECIMAL has no NaN (its Postgres reader makes it 0): such a window goes by CSV,
    # where the loader's non-finite rule applies.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update fastpath.exact set amount = 'NaN', updated_at = '2026-01-03' where id = 2")
    nan = ex.run(catalog, state=run.last_state)
    (batch,) = nan.of("BATCH", "fastpath-exact")
    assert batch["encoding"]["format"] == "csv"
    assert (
        "Stream 'fastpath-exact' is exported as CSV instead of Parquet: 1 row(s) hold NaN in a numeric column "
        "(amount, wide)" in nan.log
    )
    assert ",NaN," in nan.files("fastpath-exact")[0].read_text()


def test_unsupported_types_and_log_based_fall_back_with_a_warning(typed) -> None:
    _, ex = typed
    discovered = ex.discover()
    run = ex.run(select(json.loads(json.dumps(discovered)), {"fastpath-tagged": "updated_at", "fastpath-typed": None}))
    assert "Stream 'fastpath-tagged' falls back to the record path instead of COPY" in run.log
    # Arrays take the COPY path (as JSON text in CSV); the interval does not.
    assert "falls back to the record path instead of COPY: column types without a CSV contract: span (interval)" in (
        run.log
    )
    assert not run.of("BATCH", "fastpath-tagged")
    assert [m["record"]["tags"] for m in run.of("RECORD", "fastpath-tagged")] == [[1, 2], None]
    assert run.bookmark("fastpath-tagged").startswith("2026-01-02T00:00:00")
    # The FULL_TABLE stream beside it takes the COPY path, with no bookmark; as CSV, since Parquet
    # does not carry a numeric without precision exactly.
    assert len(run.of("BATCH", "fastpath-typed")) == 1
    assert run.of("BATCH", "fastpath-typed")[0]["encoding"]["format"] == "csv"
    assert (
        "Stream 'fastpath-typed' is exported as CSV instead of Parquet: column types Parquet does not carry "
        "exactly: ratio (numeric)" in run.log
    )
    assert "fastpath-typed" not in run.last_state.get("bookmarks", {}) or not run.last_state["bookmarks"][
        "fastpath-typed"
    ].get("replication_key_value")

    # LOG_BASED reads the write-ahead log: never COPY. (This server has no logical decoding
    # plugin, so the stock WAL reader then fails; what matters here is the path taken.)
    log_based = ex.run(select(discovered, {"fastpath-typed": None}, method="LOG_BASED"), check=False)
    assert "Stream 'fastpath-typed' falls back to the record path instead of COPY: replication method LOG_BASED" in (
        log_based.log
    )
    assert not log_based.of("BATCH")


def test_killed_run_resumes_from_its_last_state_without_loss(shop) -> None:
    dp, ex = shop
    catalog = shop_catalog(ex)
    # CSV files of one row each: the BATCH messages outgrow the pipe, so the extractor is still
    # inside the orders COPY when the first orders BATCH is read here; then SIGKILL.
    proc = subprocess.Popen(
        ex.args(catalog, batch_size_rows=1, copy_format="csv"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    seen: list[dict] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        message = json.loads(line)
        seen.append(message)
        if message["type"] == "BATCH" and message["stream"] == "shop-orders":
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed = Run("", "", proc.returncode)
    killed.messages = seen
    # Customers were complete (their STATE came); orders were not, so no orders bookmark exists.
    last_state = killed.last_state
    assert set(last_state["bookmarks"]) == {"shop-customers"}

    resumed = ex.run(catalog, state=last_state, copy_format="csv")
    delivered = resumed.keys("shop-orders", "order_id")
    assert sorted(delivered) == [k for (k,) in dp.source("select order_id from shop.orders order by 1")]
    (newest,) = dp.source("select max(updated_at) from shop.orders")[0]
    assert datetime.fromisoformat(resumed.bookmark("shop-orders")) == newest
    # Customers resume at their bookmark (inclusive): only the rows at the bookmark come again.
    (at_bookmark,) = dp.source(
        "select count(*) from shop.customers where updated_at >= %s",
        (last_state["bookmarks"]["shop-customers"]["replication_key_value"],),
    )[0]
    assert len(resumed.keys("shop-customers", "customer_id")) == at_bookmark


# --- end to end: Meltano, tap-shop -> target-raw-shop (the project's loader) ----------------------
@pytest.fixture
def e2e(shop_db, meltano_db, tmp_path: Path) -> DataPath:
    shop = yaml.safe_load((REPO / "meltano" / "sources" / "shop.meltano.yml").read_text())
    loader = next(p for p in shop["plugins"]["loaders"] if p["name"] == "target-raw-shop")
    assert loader.get("inherit_from") == LOADER, f"target-raw-shop must inherit {LOADER}, the loader of BATCH files"
    # Parquet files of about 1,000 rows, whatever the size of the export (the sandbox's default
    # exports tables this small as CSV).
    env = {"TAP_SHOP_BATCH_SIZE_ROWS": "1000", "TAP_SHOP_PARQUET_MIN_ROWS": "0"}
    return DataPath.fresh(shop_db, meltano_db, tmp_path, ORDERS, extra_env=env)


def _raw(dp: DataPath, sql: str) -> list[tuple]:
    return dp.warehouse_query("raw_shop", sql)


def test_meltano_full_and_incremental_load_by_copy(e2e: DataPath) -> None:
    result = e2e.el("shop")
    assert "falls back to the record path" not in result.stdout + result.stderr
    assert "Loaded BATCH of 'shop-orders' (parquet, 1 file(s))" in result.stdout + result.stderr
    for table in ("customers", "products", "orders"):
        assert _raw(e2e, f"select count(*) from shop.{table}") == e2e.source(f"select count(*) from shop.{table}")
    (amount_type,) = _raw(
        e2e, "select data_type from information_schema.columns where table_name = 'orders' and column_name = 'amount'"
    )[0]
    assert amount_type == "DECIMAL(12,2)"
    assert _raw(e2e, "select sum(amount) from shop.orders") == e2e.source("select sum(amount) from shop.orders")

    day = e2e.next_day(new_pct=1)
    e2e.el("shop")
    count, distinct = _raw(e2e, "select count(*), count(distinct order_id) from shop.orders")[0]
    assert count == distinct == e2e.source("select count(*) from shop.orders")[0][0]
    changed = dict(e2e.source("select order_id, status from shop.orders where updated_at::date = %s", (day,)))
    ids = ",".join(map(str, changed))
    assert dict(_raw(e2e, f"select order_id, status from shop.orders where order_id in ({ids})")) == changed
    (newest,) = e2e.source("select max(updated_at) from shop.orders")[0]
    bookmark = json.loads(e2e.state("shop"))["singer_state"]["bookmarks"]["shop-orders"]["replication_key_value"]
    assert datetime.fromisoformat(bookmark) == newest


def _wait_until_gone(pgid: int, timeout: float = 30.0) -> None:
    """Wait until every process of the group has exited (the loader's file lock is released)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes of group {pgid} still run {timeout:.0f} s after SIGKILL")


def test_meltano_run_killed_mid_load_resumes_without_loss_or_duplicates(e2e: DataPath) -> None:
    cmd, cwd = e2e.command("meltano", "run", "tap-shop", "target-raw-shop")
    # Files of 10 rows (250 batches of orders, each its own transaction: the load outlasts the
    # moment it takes Meltano to pass the loader's first line on), a fresh process group: SIGKILL
    # reaches Meltano, the extractor and the loader once the loader has committed a first part of
    # the orders.
    env = {**e2e.env(), "TAP_SHOP_BATCH_SIZE_ROWS": "10"}
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "Loaded BATCH of 'shop-orders' (parquet" in line:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed mid-load"
    _wait_until_gone(proc.pid)
    (partial,) = _raw(e2e, "select count(*) from shop.orders")[0]
    assert 0 < partial < ORDERS

    # Meltano still counts the killed run as running: the next run says --force, as after a crash.
    e2e.run("meltano", "run", "--force", "tap-shop", "target-raw-shop")
    for table, key in (("orders", "order_id"), ("customers", "customer_id"), ("products", "product_id")):
        count, distinct = _raw(e2e, f"select count(*), count(distinct {key}) from shop.{table}")[0]
        assert count == distinct == e2e.source(f"select count(*) from shop.{table}")[0][0], table
    source_rows = e2e.source("select order_id, status, amount, updated_at from shop.orders order by 1")
    assert _raw(e2e, "select order_id, status, amount, updated_at from shop.orders order by 1") == source_rows
    (newest,) = e2e.source("select max(updated_at) from shop.orders")[0]
    bookmark = json.loads(e2e.state("shop"))["singer_state"]["bookmarks"]["shop-orders"]["replication_key_value"]
    assert datetime.fromisoformat(bookmark) == newest
