"""target-baton-duckdb, the project's DuckDB loader: the real loader process (from the venv Meltano
installed) fed Singer messages on stdin, checked on the DuckDB file it writes and the STATE lines it
writes to stdout."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.unit.loader_run import Loader, batch, encode, record, schema, state

ORDERS = "shop-orders"
TEXT = {"type": ["string", "null"]}


@pytest.fixture
def loader(tmp_path: Path) -> Loader:
    return Loader(tmp_path)


# --- no row lost ----------------------------------------------------------------------------------
@pytest.mark.parametrize("metadata", [False, True], ids=["plain", "metadata-columns"])
@pytest.mark.parametrize("keys", [["id"], []], ids=["keyed", "keyless"])
def test_all_text_stream_over_several_batches_loses_no_row(loader: Loader, metadata: bool, keys: list[str]):
    props = {"id": TEXT, "name": TEXT, "note": TEXT, "_sdc_filename": TEXT}
    # The first record looks like a CSV header: a loader that sniffs one would drop it.
    rows = [{"id": "id", "name": "name", "note": "note", "_sdc_filename": "_sdc_filename"}] + [
        {"id": str(i), "name": f"n{i}", "note": "" if i == 2 else None, "_sdc_filename": "f.csv"} for i in range(1, 5)
    ]
    messages = [schema("marketing-spend", props, keys)] + [record("marketing-spend", r) for r in rows]
    messages.append(state({"marketing-spend": {"replication_key_value": "x"}}))
    result = loader.run(messages, batch_size_rows=2, add_metadata_columns=metadata)

    assert "Batch of 'marketing-spend' is full" in result.stderr  # 3 batches: 2 + 2 + 1
    got = loader.query("select id, name, note, _sdc_filename from shop.spend order by id")
    assert got == sorted((r["id"], r["name"], r["note"], r["_sdc_filename"]) for r in rows)
    columns = set(loader.types("shop.spend"))
    sdc = {"_sdc_extracted_at", "_sdc_received_at", "_sdc_batched_at", "_sdc_deleted_at", "_sdc_sequence"}
    if metadata:
        assert sdc | {"_sdc_table_version"} <= columns
        assert loader.query("select count(*) from shop.spend where _sdc_batched_at is null") == [(0,)]
    else:
        assert not columns & sdc
    assert result.states[-1] == {"bookmarks": {"marketing-spend": {"replication_key_value": "x"}}}
    assert result.summaries["marketing-spend"] == {
        "stream": "marketing-spend",
        "table": "shop.spend",
        "rows": 5,
        "inserted": 5,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "schema_changes": [],
    }


# --- types ----------------------------------------------------------------------------------------
def test_types_are_the_declared_ones(loader: Loader):
    props = {
        "id": {"type": ["integer"]},
        "amount": {"type": ["number", "null"], "x-sql-datatype": "decimal(12,2)"},
        "fee": {"type": ["number", "null"], "x-precision": 10, "x-scale": 3},
        "ratio": {"type": ["number", "null"]},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "day": {"type": ["string", "null"], "format": "date"},
        "at": {"type": ["string", "null"], "format": "time"},
        "paid": {"type": ["boolean", "null"]},
        "doc": {"type": ["object", "null"]},
        "tags": {"type": ["array", "null"]},
        "note": {"type": ["string", "null"]},
        "maybe": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
        "mixed": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    }
    amounts = ["0.10", "0.20", "0.30", "1234567890.99", "-5.05"]
    records = [
        {
            "id": i,
            "amount": Decimal(a),
            "fee": Decimal("1.125"),
            "ratio": 0.5,
            "created_at": "2026-01-02T03:04:05.123456+02:00",
            "day": "2026-01-02",
            "at": "10:11:12",
            "paid": i % 2 == 0,
            "doc": {"k": [1, "x"]},
            "tags": ["a", "b"],
            "note": "it's",
            "maybe": None,
            "mixed": i,
        }
        for i, a in enumerate(amounts)
    ]
    # Decimal values as JSON numbers, exactly as written (json cannot write Decimal itself).
    lines = [json.dumps(schema(ORDERS, props, ["id"]))]
    for r in records:
        text = json.dumps(record(ORDERS, {**r, "amount": "@A", "fee": "@F"}))
        lines.append(text.replace('"@A"', str(r["amount"])).replace('"@F"', str(r["fee"])))
    loader.run(lines, batch_size_rows=2)

    assert loader.types("shop.orders") == {
        "id": "BIGINT",
        "amount": "DECIMAL(12,2)",
        "fee": "DECIMAL(10,3)",
        "ratio": "DOUBLE",
        "created_at": "TIMESTAMP WITH TIME ZONE",
        "day": "DATE",
        "at": "TIME",
        "paid": "BOOLEAN",
        "doc": "JSON",
        "tags": "JSON",
        "note": "VARCHAR",
        "maybe": "TIMESTAMP WITH TIME ZONE",
        "mixed": "JSON",
    }
    (total,) = loader.query("select sum(amount) from shop.orders")[0]
    assert total == sum(Decimal(a) for a in amounts) == Decimal("1234567886.54")
    row = loader.query(
        "select created_at, day::varchar, \"at\"::varchar, paid, doc->>'$.k[1]', tags::varchar, note, fee "
        "from shop.orders where id = 0"
    )[0]
    assert row[0] == datetime(2026, 1, 2, 1, 4, 5, 123456, tzinfo=UTC)
    assert row[1:] == ("2026-01-02", "10:11:12", True, "x", '["a","b"]', "it's", Decimal("1.125"))


def test_table_names_come_from_the_stream(loader: Loader):
    messages = []
    for stream in ("shop-orders", "ad_spend", "public-Order Lines"):
        messages += [schema(stream, {"id": {"type": "integer"}}, ["id"]), record(stream, {"id": 1})]
    loader.run(messages, default_target_schema="Marketing")
    tables = loader.query(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema <> '_baton' order by 1"
    )
    assert tables == [("marketing.ad_spend",), ("marketing.order_lines",), ("marketing.orders",)]
    catalogue = loader.query("select stream, table_schema, table_name, key_properties from _baton.streams order by 1")
    assert catalogue[0] == ("ad_spend", "marketing", "ad_spend", ["id"])


# --- upsert -------------------------------------------------------------------------------------
def _summary(stream: str, table: str, **figures: int) -> dict:
    base = {"rows": 0, "inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    return {"stream": stream, "table": table, **base, **figures, "schema_changes": []}


def test_upsert_by_key_rewrites_only_changed_rows(loader: Loader):
    props = {"id": {"type": "integer"}, "status": TEXT, "updated_at": {"type": "string", "format": "date-time"}}
    first = [schema(ORDERS, props, ["id"], bookmark="updated_at")]
    for i in range(1, 6):
        first.append(record(ORDERS, {"id": i, "status": "placed", "updated_at": "2026-01-01T00:00:00Z"}))
    # The same key twice in one batch, and again in a later one: the last record wins.
    first.append(record(ORDERS, {"id": 2, "status": "shipped", "updated_at": "2026-01-02T00:00:00Z"}))
    # id 2 lands in the first batch, is replaced in the second
    run1 = loader.run(first, batch_size_rows=4, add_metadata_columns=True)
    assert run1.summaries[ORDERS] == _summary(ORDERS, "shop.orders", rows=6, inserted=5, updated=1)
    first_load = loader.query("select id, _sdc_batched_at from shop.orders where id in (1, 3) order by id")

    second = [schema(ORDERS, props, ["id"], bookmark="updated_at")]
    second.append(record(ORDERS, {"id": 2, "status": "completed", "updated_at": "2026-01-03T00:00:00Z"}))
    second.append(record(ORDERS, {"id": 6, "status": "placed", "updated_at": "2026-01-03T00:00:00Z"}))
    # Re-read at the inclusive bookmark, unchanged: not rewritten.
    second.append(record(ORDERS, {"id": 3, "status": "placed", "updated_at": "2026-01-01T00:00:00Z"}))
    run2 = loader.run(second, add_metadata_columns=True)

    assert loader.query("select count(*), count(distinct id) from shop.orders") == [(6, 6)]
    assert loader.query("select status from shop.orders where id = 2") == [("completed",)]
    assert run2.summaries[ORDERS] == _summary(ORDERS, "shop.orders", rows=3, inserted=1, updated=1, unchanged=1)
    # The unchanged row is the row the first run wrote: it keeps the moment it was loaded.
    assert loader.query("select id, _sdc_batched_at from shop.orders where id in (1, 3) order by id") == first_load
    (changed_at,) = loader.query("select _sdc_batched_at from shop.orders where id = 2")[0]
    assert changed_at > first_load[0][1]
    assert loader.query("select replication_key, key_properties from _baton.streams where stream = ?", [ORDERS]) == [
        ("updated_at", ["id"])
    ]
    assert loader.query("select count(*) from information_schema.table_constraints where table_schema = 'shop'") == [
        (0,)
    ]


@pytest.mark.parametrize(
    ("key_schema", "key"),
    [
        ({"type": ["integer", "null"]}, lambda i: i),
        (TEXT, lambda i: f"k{i:02d}"),
        ({"type": ["string", "null"], "format": "date-time"}, lambda i: f"2026-01-{i:02d}T00:00:00Z"),
    ],
    ids=["integer", "text", "timestamp"],
)
def test_a_merge_reads_the_table_within_the_batchs_key_range_and_misses_no_row(loader: Loader, key_schema, key):
    """A keyed batch is matched against the table's rows between its smallest and largest key only:
    rows inside the range are found (changed, unchanged), rows outside it stay as they are, and a
    batch with a NULL key still finds the NULL key the table holds."""
    props = {"id": key_schema, "status": TEXT}
    first = [schema(ORDERS, props, ["id"])] + [record(ORDERS, {"id": key(i), "status": "placed"}) for i in range(1, 11)]
    loader.run(first, add_metadata_columns=True)
    before = loader.query("select id, _sdc_batched_at from shop.orders order by id")

    second = [
        schema(ORDERS, props, ["id"]),
        record(ORDERS, {"id": key(3), "status": "shipped"}),  # changed
        record(ORDERS, {"id": key(4), "status": "placed"}),  # unchanged
        record(ORDERS, {"id": key(11), "status": "placed"}),  # new
    ]
    run = loader.run(second, add_metadata_columns=True)
    assert run.summaries[ORDERS] == _summary(ORDERS, "shop.orders", rows=3, inserted=1, updated=1, unchanged=1)
    after = dict(loader.query("select id, _sdc_batched_at from shop.orders"))
    assert len(after) == 11
    assert {k: v for k, v in before if after[k] != v} == {before[2][0]: before[2][1]}  # only key 3 rewritten
    assert loader.query("select count(*) from shop.orders where status = 'shipped'") == [(1,)]

    with_null = [schema(ORDERS, props, ["id"]), record(ORDERS, {"id": None, "status": "placed"})]
    loader.run(with_null)
    run = loader.run([schema(ORDERS, props, ["id"]), record(ORDERS, {"id": None, "status": "cancelled"})])
    assert run.summaries[ORDERS] == _summary(ORDERS, "shop.orders", rows=1, updated=1)
    assert loader.query("select status from shop.orders where id is null") == [("cancelled",)]


# --- schema changes -------------------------------------------------------------------------------
def test_schema_widens_and_adds_columns(loader: Loader):
    v1 = {
        "id": {"type": "integer"},
        "qty": {"type": "integer"},
        "price": {"type": "number", "x-sql-datatype": "decimal(8,2)"},
    }
    loader.run([schema(ORDERS, v1, ["id"]), record(ORDERS, {"id": 1, "qty": 3, "price": 9.99})])
    v2 = {
        "id": {"type": "integer"},
        "qty": {"type": "number"},
        "price": {"type": "number", "x-sql-datatype": "decimal(12,3)"},
        "code": {"type": "integer"},
        "coupon": TEXT,
    }
    loader.run([schema(ORDERS, v2, ["id"]), record(ORDERS, {"id": 2, "qty": 1.5, "price": 1.125, "coupon": "X"})])
    assert loader.types("shop.orders") == {
        "id": "BIGINT",
        "qty": "DOUBLE",
        "price": "DECIMAL(12,3)",
        "code": "BIGINT",
        "coupon": "VARCHAR",
    }
    assert loader.query("select id, qty, price, coupon from shop.orders order by id") == [
        (1, 3.0, Decimal("9.990"), None),
        (2, 1.5, Decimal("1.125"), "X"),
    ]


@pytest.mark.parametrize(
    ("before", "after", "shown"),
    [
        (
            {"type": "number", "x-sql-datatype": "decimal(12,2)"},
            {"type": "number", "x-sql-datatype": "decimal(12,4)"},
            ("DECIMAL(12,2)", "DECIMAL(12,4)"),
        ),
        ({"type": "number"}, {"type": "number", "x-sql-datatype": "decimal(12,2)"}, ("DOUBLE", "DECIMAL(12,2)")),
        ({"type": "string", "format": "date-time"}, {"type": "integer"}, ("TIMESTAMPTZ", "BIGINT")),
    ],
    ids=["decimal-scale", "double-to-decimal", "timestamp-to-integer"],
)
def test_a_narrowing_is_refused_naming_the_column(loader: Loader, before: dict, after: dict, shown: tuple[str, str]):
    loader.run([schema(ORDERS, {"id": {"type": "integer"}, "amount": before}, ["id"]), record(ORDERS, {"id": 1})])
    result = loader.run(
        [schema(ORDERS, {"id": {"type": "integer"}, "amount": after}, ["id"]), record(ORDERS, {"id": 2})], ok=False
    )
    assert "cannot change the type of column 'amount' of table shop.orders (stream 'shop-orders')" in result.stderr
    assert f"from {shown[0]} to {shown[1]}" in result.stderr
    assert loader.query("select count(*) from shop.orders") == [(1,)]
    assert not result.states


# --- non-finite numbers ---------------------------------------------------------------------------
NUMBERS = {
    "id": {"type": "integer"},
    "amount": {"type": ["number", "null"], "x-sql-datatype": "decimal(12,2)"},
    "ratio": {"type": ["number", "null"]},
}


def _nan_run(bad_line: str, props: dict | None = None) -> list[dict | str]:
    """Batches of 2: {1, 2} commits and its STATE is written; {8, bad 7} fails as a whole."""
    messages: list[dict | str] = [schema(ORDERS, props or NUMBERS, ["id"])]
    messages += [record(ORDERS, {"id": 1, "amount": 1.5, "ratio": 0.5})]
    messages += [state({ORDERS: {"replication_key_value": "2026-01-01"}}), record(ORDERS, {"id": 2, "ratio": 1})]
    messages += [
        record(ORDERS, {"id": 8, "ratio": 8}),
        bad_line,
        state({ORDERS: {"replication_key_value": "2026-01-02"}}),
    ]
    return messages


@pytest.mark.parametrize(
    ("line", "column", "value"),
    [
        ('{"type":"RECORD","stream":"shop-orders","record":{"id":7,"amount":1,"ratio":NaN}}', "ratio", "NaN"),
        (
            '{"type":"RECORD","stream":"shop-orders","record":{"id":7,"amount":1,"ratio":-Infinity}}',
            "ratio",
            "-Infinity",
        ),
        ('{"type":"RECORD","stream":"shop-orders","record":{"id":7,"amount":"NaN","ratio":1}}', "amount", "NaN"),
    ],
    ids=["nan", "minus-infinity", "decimal-nan-string"],
)
def test_a_non_finite_number_fails_naming_stream_key_and_column(loader: Loader, line: str, column: str, value: str):
    # A tap that writes decimals as strings declares them so.
    props = {**NUMBERS, "amount": {"type": ["number", "string", "null"], "x-sql-datatype": "decimal(12,2)"}}
    result = loader.run(_nan_run(line, props), batch_size_rows=2, ok=False)
    assert "non-finite number in column" in result.stderr
    assert f"column '{column}' of stream 'shop-orders' (table shop.orders)" in result.stderr
    assert f"id=7: {value}" in result.stderr
    # The batch before is committed, with its state; the failing batch (8 and 7) is not, nor its state.
    assert loader.query("select id from shop.orders order by id") == [(1,), (2,)]
    assert [s["bookmarks"][ORDERS]["replication_key_value"] for s in result.states] == ["2026-01-01"]


def test_non_finite_numbers_null_loads_them_as_null(loader: Loader):
    line = '{"type":"RECORD","stream":"shop-orders","record":{"id":7,"amount":1,"ratio":Infinity}}'
    result = loader.run(_nan_run(line), batch_size_rows=2, non_finite_numbers="null")
    assert loader.query("select id, ratio from shop.orders order by id") == [(1, 0.5), (2, 1.0), (7, None), (8, 8.0)]
    assert "non-finite number loaded as NULL" in result.stderr and "id=7: Infinity" in result.stderr
    assert result.states[-1]["bookmarks"][ORDERS]["replication_key_value"] == "2026-01-02"


# --- the bookmark guard ---------------------------------------------------------------------------
def test_future_bookmarks_are_clamped_with_a_warning(loader: Loader):
    props = {"id": {"type": "integer"}, "updated_at": {"type": "string", "format": "date-time"}}
    future = "9999-12-31T23:59:59.999999+00:00"
    bookmarks = {
        ORDERS: {
            "replication_key": "updated_at",
            "replication_key_value": future,
            "progress_markers": {"replication_key": "updated_at", "replication_key_value": "infinity"},
        },
        "shop-items": {
            "partitions": [
                {"context": {"p": 1}, "replication_key": "day", "replication_key_value": "9999-12-31"},
                {"context": {"p": 2}, "replication_key": "day", "replication_key_value": "2020-01-01"},
            ]
        },
        "shop-ids": {"replication_key": "id", "replication_key_value": 99999999},
        "shop-soon": {"replication_key": "updated_at", "replication_key_value": "2000-01-01 10:00:00+00"},
    }
    before = datetime.now(tz=UTC)
    result = loader.run(
        [schema(ORDERS, props, ["id"]), record(ORDERS, {"id": 1, "updated_at": future}), state(bookmarks)]
    )
    after = datetime.now(tz=UTC)
    (emitted,) = result.states
    top = emitted["bookmarks"][ORDERS]
    for value in (top["replication_key_value"], top["progress_markers"]["replication_key_value"]):
        assert before - timedelta(seconds=5) <= datetime.fromisoformat(value) <= after
    partitions = emitted["bookmarks"]["shop-items"]["partitions"]
    assert partitions[0]["replication_key_value"] == before.date().isoformat()
    assert partitions[1]["replication_key_value"] == "2020-01-01"
    assert emitted["bookmarks"]["shop-ids"]["replication_key_value"] == 99999999
    assert emitted["bookmarks"]["shop-soon"]["replication_key_value"] == "2000-01-01 10:00:00+00"
    assert "the bookmark of stream 'shop-orders' (replication key 'updated_at') lies in the future" in result.stderr
    assert future in result.stderr and "infinity is beyond" in result.stderr
    # The row itself loads.
    assert loader.query("select updated_at::varchar from shop.orders") == [("9999-12-31 23:59:59.999999+00",)]


def test_future_bookmarks_fail_refuses_the_state(loader: Loader):
    props = {"id": {"type": "integer"}, "updated_at": {"type": "string", "format": "date-time"}}
    good = {ORDERS: {"replication_key": "updated_at", "replication_key_value": "2026-01-01T00:00:00+00:00"}}
    bad = {ORDERS: {"replication_key": "updated_at", "replication_key_value": "9999-12-31T23:59:59.999999+00:00"}}
    messages = [schema(ORDERS, props, ["id"]), record(ORDERS, {"id": 1, "updated_at": "2026-01-01T00:00:00Z"})]
    messages += [state(good), record(ORDERS, {"id": 2, "updated_at": "9999-12-31T23:59:59.999999Z"}), state(bad)]
    result = loader.run(messages, future_bookmarks="fail", batch_size_rows=1, ok=False)
    assert "future bookmark refused" in result.stderr
    assert "stream 'shop-orders' (replication key 'updated_at')" in result.stderr
    assert [s["bookmarks"][ORDERS]["replication_key_value"] for s in result.states] == ["2026-01-01T00:00:00+00:00"]
    assert loader.query("select count(*) from shop.orders") == [(2,)]


# --- BATCH messages -------------------------------------------------------------------------------
TYPED = {
    "id": {"type": "integer"},
    "amount": {"type": ["number", "null"], "x-sql-datatype": "decimal(12,2)"},
    "ratio": {"type": ["number", "null"]},
    "happened": {"type": ["string", "null"], "format": "date-time"},
    "day": {"type": ["string", "null"], "format": "date"},
    "note": {"type": ["string", "null"]},
    "doc": {"type": ["object", "null"]},
    "flag": {"type": ["boolean", "null"]},
}


def test_batch_csv_from_postgres_copy(loader: Loader, tmp_path: Path):
    # COPY ... TO STDOUT WITH (FORMAT csv): no header; unquoted empty = NULL, "" = empty string.
    first = tmp_path / "orders-00001.csv"
    first.write_text(
        '1,12.30,0.5,2026-01-01 10:00:00.123+00,2026-01-01,"","{""a"": [1, ""x""]}",t\n'
        "2,,,infinity,,,,\n"
        '3,0.10,-1e-3,-infinity,2026-01-03,"line one\nline two, with comma",null,f\n'
    )
    second = tmp_path / "orders-00002.csv"
    second.write_text("4,100.00,,2026-01-04 00:00:00+00,,plain,[],t\n1,99.99,2,2026-01-05 00:00:00+00,,again,{},f\n")
    columns = list(TYPED)
    messages = [schema(ORDERS, TYPED, ["id"]), batch(ORDERS, [first], "csv", columns=columns)]
    messages += [state({ORDERS: {"replication_key_value": 1}}), batch(ORDERS, [second], "csv")]
    messages += [state({ORDERS: {"replication_key_value": 2}})]
    result = loader.run(messages, add_metadata_columns=True)

    rows = loader.query(
        "select id, amount, ratio, happened::varchar, day::varchar, note, doc::varchar, flag "
        "from shop.orders order by id"
    )
    assert rows == [
        (1, Decimal("99.99"), 2.0, "2026-01-05 00:00:00+00", None, "again", "{}", False),
        (2, None, None, "infinity", None, None, None, None),
        (3, Decimal("0.10"), -0.001, "-infinity", "2026-01-03", "line one\nline two, with comma", "null", False),
        (4, Decimal("100.00"), None, "2026-01-04 00:00:00+00", None, "plain", "[]", True),
    ]
    assert loader.query("select count(*) from shop.orders where _sdc_batched_at is null") == [(0,)]
    assert [s["bookmarks"][ORDERS]["replication_key_value"] for s in result.states] == [1, 2]
    assert result.summaries[ORDERS]["rows"] == 5
    assert (result.summaries[ORDERS]["inserted"], result.summaries[ORDERS]["updated"]) == (4, 1)
    assert first.exists() and second.exists()  # kept by default


def test_batch_csv_loads_within_a_job_sized_memory_limit(loader: Loader, tmp_path: Path, monkeypatch):
    # The jobs image sets DuckDB's limit from the container's (BATON_JOB_MEMORY 2g -> 1536MB): the
    # CSV reader's buffer must fit in it, whatever the longest line it accepts.
    monkeypatch.setenv("BATON_DUCKDB_MEMORY_LIMIT", "1GB")
    path = tmp_path / "a.csv"
    path.write_text("".join(f"{i},note {i}\n" for i in range(1, 1001)))
    props = {"id": {"type": "integer"}, "note": TEXT}
    loader.run([schema(ORDERS, props, ["id"]), batch(ORDERS, [path], "csv")])
    assert loader.query("select count(*), sum(id) from shop.orders") == [(1000, 500500)]


def test_batch_csv_empty_string_and_null_and_deletion(loader: Loader, tmp_path: Path):
    path = tmp_path / "a.csv"
    path.write_text('1,""\n2,\n3,"x"\n')
    props = {"id": {"type": "integer"}, "note": TEXT}
    loader.run([schema(ORDERS, props, ["id"]), batch(ORDERS, [path], "csv")], delete_batch_files=True)
    assert loader.query("select id, note from shop.orders order by id") == [(1, ""), (2, None), (3, "x")]
    assert not path.exists()


def test_batch_csv_with_nan_fails_and_keeps_the_table(loader: Loader, tmp_path: Path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("1,1.00,0.5,,,,,\n")
    bad.write_text("2,2.00,0.5,,,,,\n3,NaN,1,,,,,\n")
    messages = [schema(ORDERS, TYPED, ["id"]), batch(ORDERS, [good], "csv"), state({ORDERS: {"v": 1}})]
    messages += [batch(ORDERS, [bad], "csv"), state({ORDERS: {"v": 2}})]
    result = loader.run(messages, ok=False)
    assert "non-finite number in column 'amount' of stream 'shop-orders' (table shop.orders, file " in result.stderr
    assert "id=3: NaN" in result.stderr
    assert loader.query("select id from shop.orders") == [(1,)]
    assert result.states == [{"bookmarks": {ORDERS: {"v": 1}}}]


def test_batch_jsonl_gzip_and_parquet(loader: Loader, tmp_path: Path):
    props = {
        "id": {"type": "integer"},
        "big": {"type": ["number", "null"], "x-sql-datatype": "decimal(20,2)"},
        "happened": {"type": ["string", "null"], "format": "date-time"},
        "doc": {"type": ["object", "null"]},
        "note": TEXT,
    }
    jsonl = tmp_path / "part.jsonl.gz"
    with gzip.open(jsonl, "wt") as fh:
        fh.write('{"id": 1, "big": 123456789012345678.91, "happened": "2026-01-01T00:00:00+00:00", "doc": {"a": 1}}\n')
        fh.write('{"id": 2, "big": null, "note": "id"}\n')
        fh.write('{"id": 1, "big": 0.01, "happened": "2026-01-02T00:00:00+00:00", "note": "last wins"}\n')
    parquet = tmp_path / "part.parquet"
    with duckdb.connect() as conn:
        conn.execute(
            "copy (select 3::bigint as id, 5.25::decimal(20,2) as big, "
            "timestamptz '2026-01-03 00:00:00+00' as happened, {'b': 2} as doc, 'pq' as note) to ? (format parquet)",
            [str(parquet)],
        )
    messages = [
        schema(ORDERS, props, ["id"]),
        batch(ORDERS, [jsonl], "jsonl", "gzip"),
        batch(ORDERS, [parquet], "parquet"),
    ]
    loader.run(messages)
    assert loader.query("select id, big, happened::varchar, doc::varchar, note from shop.orders order by id") == [
        (1, Decimal("0.01"), "2026-01-02 00:00:00+00", None, "last wins"),
        (2, None, None, None, "id"),
        (3, Decimal("5.25"), "2026-01-03 00:00:00+00", '{"b":2}', "pq"),
    ]
    plain = tmp_path / "exact.jsonl"
    plain.write_text('{"id": 9, "big": 123456789012345678.91}\n')
    loader.run([schema(ORDERS, props, ["id"]), batch(ORDERS, [plain], "jsonl")])
    assert loader.query("select big from shop.orders where id = 9") == [(Decimal("123456789012345678.91"),)]


def _parquet(path: Path, rows_sql: str) -> Path:
    """A Parquet file as the extractor's Parquet export writes it: DuckDB types straight from Postgres."""
    with duckdb.connect() as conn:
        conn.execute("set TimeZone = 'UTC'")
        conn.execute(f"copy ({rows_sql}) to ? (format parquet)", [str(path)])
    return path


TYPED_PARQUET = """
select id::integer as id, amount::decimal(12,2) as amount, ratio::double as ratio,
       happened::timestamptz as happened, day::date as day, note, doc, flag, uid::uuid as uid
from (values {rows}) v(id, amount, ratio, happened, day, note, doc, flag, uid)
"""


def test_batch_parquet_typed_columns_load_exactly_and_upsert(loader: Loader, tmp_path: Path):
    props = {**TYPED, "uid": {"type": ["string", "null"], "format": "uuid"}}
    first = _parquet(
        tmp_path / "first.parquet",
        TYPED_PARQUET.format(
            rows="(1, 12.30, 0.5, '2026-01-01 12:00:00.123456+02', '2026-01-01', '', '{\"a\": [1, \"x\"]}', true, "
            "'0f3c6a1e-2b4d-4e5f-8a9b-0c1d2e3f4a5b'), "
            "(2, null, null, 'infinity', null, null, null, null, null)"
        ),
    )
    second = _parquet(
        tmp_path / "second.parquet",
        TYPED_PARQUET.format(
            rows="(2, null, null, 'infinity', null, null, null, null, null), "
            "(3, 1.00, 1, null, null, 'replaced by the later row 3', null, null, null), "
            "(3, 9999999999.99, -2.25, '2026-01-03 00:00:00+00', '2026-02-28', 'a \"quoted\",\nvalue', 'null', false, "
            "null), (1, 12.31, 0.5, '2026-01-01 12:00:00.123456+02', '2026-01-01', '', '{}', true, null)"
        ),
    )
    result = loader.run(
        [schema(ORDERS, props, ["id"]), batch(ORDERS, [first], "parquet"), batch(ORDERS, [second], "parquet")]
    )
    assert loader.query(
        "select id, amount, ratio, happened::varchar, day, note, doc::varchar, flag, uid::varchar "
        "from shop.orders order by id"
    ) == [
        (1, Decimal("12.31"), 0.5, "2026-01-01 10:00:00.123456+00", date(2026, 1, 1), "", "{}", True, None),
        (2, None, None, "infinity", None, None, None, None, None),
        (
            3,
            Decimal("9999999999.99"),
            -2.25,
            "2026-01-03 00:00:00+00",
            date(2026, 2, 28),
            'a "quoted",\nvalue',
            "null",
            False,
            None,
        ),
    ]
    assert loader.query(
        "select column_name, data_type from information_schema.columns where table_name = 'orders' "
        "and column_name in ('id', 'amount', 'uid') order by 1"
    ) == [("amount", "DECIMAL(12,2)"), ("id", "BIGINT"), ("uid", "UUID")]
    summary = result.summaries[ORDERS]
    assert (summary["rows"], summary["inserted"], summary["updated"], summary["unchanged"]) == (6, 3, 1, 1)


def test_batch_parquet_nan_in_a_double_fails_naming_it_or_loads_null(loader: Loader, tmp_path: Path):
    bad = _parquet(
        tmp_path / "bad.parquet",
        "select * from (values (1::bigint, 'nan'::double, 1.5::float), (2, 2.5, '-infinity'::float), "
        "(3, 0.30000000000000004, null), (4, null, 'infinity'::float)) v(id, ratio, weight)",
    )
    props = {"id": {"type": "integer"}, "ratio": {"type": ["number", "null"]}, "weight": {"type": ["number", "null"]}}
    result = loader.run([schema(ORDERS, props, ["id"]), batch(ORDERS, [bad], "parquet")], ok=False)
    assert "non-finite number in column 'ratio' of stream 'shop-orders' (table shop.orders, file " in result.stderr
    assert "id=1: nan" in result.stderr
    assert loader.query("select count(*) from shop.orders") == [(0,)]

    loader.run([schema(ORDERS, props, ["id"]), batch(ORDERS, [bad], "parquet")], non_finite_numbers="null")
    # Floats land exactly as the file holds them (a FLOAT widened into the DOUBLE column).
    assert loader.query("select id, ratio, weight from shop.orders order by id") == [
        (1, None, 1.5),
        (2, 2.5, None),
        (3, 0.30000000000000004, None),
        (4, None, None),
    ]


def test_batch_parquet_double_for_an_integer_or_decimal_column_is_checked_on_its_text(loader: Loader, tmp_path: Path):
    props = {
        "id": {"type": "integer"},
        "qty": {"type": ["integer", "null"]},
        "price": {"type": ["number", "null"], "x-sql-datatype": "decimal(12,2)"},
    }
    fraction = _parquet(tmp_path / "qty.parquet", "select 1::bigint as id, 2.5::double as qty, 1.25::double as price")
    result = loader.run([schema(ORDERS, props, ["id"]), batch(ORDERS, [fraction], "parquet")], ok=False)
    assert "value would be rounded in column 'qty' of stream 'shop-orders'" in result.stderr
    digits = _parquet(tmp_path / "price.parquet", "select 1::bigint as id, 2::double as qty, 1.255::double as price")
    result = loader.run([schema(ORDERS, props, ["id"]), batch(ORDERS, [digits], "parquet")], ok=False)
    assert "value would be rounded in column 'price' of stream 'shop-orders'" in result.stderr
    assert loader.query("select count(*) from shop.orders") == [(0,)]


# --- a load killed at any moment ------------------------------------------------------------------
def _orders(first: int, last: int) -> list[dict]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        record(ORDERS, {"id": i, "status": f"s{i}", "updated_at": (base + timedelta(seconds=i)).isoformat()})
        for i in range(first, last + 1)
    ]


def test_sigkill_mid_stream_then_rerun_from_the_last_state_loses_nothing(loader: Loader):
    total, every = 6000, 250
    props = {"id": {"type": "integer"}, "status": TEXT, "updated_at": {"type": "string", "format": "date-time"}}
    head = [schema(ORDERS, props, ["id"], bookmark="updated_at")]

    def stream_from(first: int) -> list[dict | str]:
        messages: list[dict | str] = []
        for message in _orders(first, total):
            messages.append(message)
            if message["record"]["id"] % every == 0:
                bookmark = {"replication_key": "updated_at", "replication_key_value": message["record"]["updated_at"]}
                messages.append(state({ORDERS: bookmark}))
        return messages

    proc = subprocess.Popen(
        loader.command(batch_size_rows=700),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    states: list[dict] = []
    reader = threading.Thread(target=lambda: states.extend(json.loads(line) for line in proc.stdout), daemon=True)
    reader.start()
    assert proc.stdin is not None
    lines = encode(head + stream_from(1)).splitlines(keepends=True)
    sent = 0
    try:
        for sent, line in enumerate(lines, start=1):
            proc.stdin.write(line)
            if sent % 100 == 0:
                proc.stdin.flush()
                time.sleep(0.002)
            if len(states) >= 3:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        reader.join(timeout=10)
    assert len(states) >= 3, "the loader wrote no STATE before it was killed"
    assert sent < len(lines), "the loader was killed after its input ended"

    # What the last STATE covers is committed: every row up to its bookmark is in raw.
    last = states[-1]["bookmarks"][ORDERS]["replication_key_value"]
    covered = int((datetime.fromisoformat(last) - datetime(2026, 1, 1, tzinfo=UTC)).total_seconds())
    assert loader.query("select count(*) from shop.orders where id <= ?", [covered]) == [(covered,)]

    # The extractor starts again from that bookmark (inclusive) and the loader upserts.
    rerun = loader.run(head + stream_from(covered), batch_size_rows=700)
    assert loader.query("select count(*), count(distinct id), min(id), max(id) from shop.orders") == [
        (total, total, 1, total)
    ]
    assert rerun.states[-1]["bookmarks"][ORDERS]["replication_key_value"].startswith("2026-01-01T01:40:00")


# --- errors speak -------------------------------------------------------------------------------------
def test_a_value_that_does_not_convert_is_named(loader: Loader, tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_text("1,2026-01-01\n2,yesterday\n")
    props = {"id": {"type": "integer"}, "day": {"type": "string", "format": "date"}}
    result = loader.run([schema(ORDERS, props, ["id"]), batch(ORDERS, [path], "csv")], ok=False)
    assert "value 'yesterday' of column 'day' of stream 'shop-orders' (table shop.orders, file " in result.stderr
    assert "id=2" in result.stderr and "does not convert to DATE" in result.stderr


def test_a_rounding_value_is_refused(loader: Loader):
    props = {"id": {"type": "integer"}, "amount": {"type": "number", "x-sql-datatype": "decimal(12,2)"}}
    line = '{"type":"RECORD","stream":"shop-orders","record":{"id":1,"amount":1.005}}'
    result = loader.run([schema(ORDERS, props, ["id"]), line], ok=False)
    assert "value would be rounded in column 'amount'" in result.stderr and "id=1: 1.005" in result.stderr


# --- streams without key properties ---------------------------------------------------------------
CONTACTS = "crm-contacts"
CONTACT_PROPS = {
    "email": TEXT,
    "score": {"type": ["number", "null"], "x-sql-datatype": "decimal(5,1)"},
    "updated_at": {"type": ["string"], "format": "date-time"},
}


def _contacts_day(day: int) -> list[tuple[str, str, str]]:
    """The source table on day 1, 2, 3: rows are added, some at the newest updated_at of the day
    before (the inclusive bookmark re-reads them), 10 exact duplicates from day 1 on."""
    rows = [(f"c{i}@x", f"{i}.5", "2026-01-01T10:00:00+00:00") for i in range(5)]
    rows += [("dup@x", "1.0", "2026-01-01T12:00:00+00:00")] * 10  # the newest of day 1: the first bookmark
    if day >= 2:
        rows += [("late@x", "2.0", "2026-01-01T12:00:00+00:00")]  # arrives at the bookmark itself
        rows += [(f"d{i}@x", "3.0", "2026-01-02T09:00:00+00:00") for i in range(4)]
    if day >= 3:
        rows += [("d0@x", "3.0", "2026-01-02T09:00:00+00:00")]  # an exact duplicate, at the bookmark
        rows += [(f"e{i}@x", None, "2026-01-03T08:00:00+00:00") for i in range(3)]
    return rows


def _extract(rows: list[tuple], incremental: bool, bookmark: str | None) -> list[tuple]:
    """What the extractor reads: every row, or those at or after the bookmark, in key order."""
    if not incremental or bookmark is None:
        return sorted(rows, key=lambda r: r[2])
    start = datetime.fromisoformat(bookmark)
    return sorted((r for r in rows if datetime.fromisoformat(r[2]) >= start), key=lambda r: r[2])


def _keyless_run(loader: Loader, tmp_path: Path, day: int, path: str, incremental: bool, bookmark: str | None):
    read = _extract(_contacts_day(day), incremental, bookmark)
    newest = max(r[2] for r in read) if read else bookmark
    messages: list[dict | str] = []
    if incremental and bookmark:  # the extractor echoes the state it starts from
        messages.append(state({CONTACTS: {"replication_key": "updated_at", "replication_key_value": bookmark}}))
    messages.append(schema(CONTACTS, CONTACT_PROPS, [], bookmark="updated_at" if incremental else None))
    if path == "records":
        messages += [record(CONTACTS, {"email": e, "score": s and float(s), "updated_at": u}) for e, s, u in read]
    else:  # COPY: files of at most 4 rows, unordered within the run as COPY may deliver them
        for n in range(0, len(read), 4):
            chunk = read[n : n + 4][::-1]
            if path == "copy":
                f = tmp_path / f"day{day}-{n}.csv"
                f.write_text("".join(f"{e},{'' if s is None else s},{u}\n" for e, s, u in chunk))
                messages.append(batch(CONTACTS, [f], "csv", columns=list(CONTACT_PROPS)))
                continue
            rows = ", ".join(f"({e!r}, {'null' if s is None else s}::double, {u!r}::timestamptz)" for e, s, u in chunk)
            f = _parquet(
                tmp_path / f"day{day}-{n}.parquet", f"select * from (values {rows}) v(email, score, updated_at)"
            )
            messages.append(batch(CONTACTS, [f], "parquet"))
    if incremental:
        messages.append(state({CONTACTS: {"replication_key": "updated_at", "replication_key_value": newest}}))
    result = loader.run(messages, batch_size_rows=4)
    return result, newest


@pytest.mark.parametrize("path", ["records", "copy", "copy-parquet"])
@pytest.mark.parametrize("incremental", [True, False], ids=["incremental", "full-table"])
def test_a_table_without_keys_equals_the_source_every_day(loader: Loader, tmp_path: Path, path: str, incremental: bool):
    bookmark = None
    for day in (1, 2, 3):
        result, bookmark = _keyless_run(loader, tmp_path, day, path, incremental, bookmark)
        raw = loader.query("select email, score::varchar, updated_at from shop.contacts")
        source = _contacts_day(day)
        as_source = sorted((e, s, datetime.fromisoformat(u)) for e, s, u in source)
        assert sorted(raw, key=lambda r: (r[0], r[1] or "", r[2])) == sorted(
            as_source, key=lambda r: (r[0], r[1] or "", r[2])
        ), f"day {day}"
        assert loader.query("select count(*) from shop.contacts where email = 'dup@x'") == [(10,)]
        figures = result.summaries[CONTACTS]
        if incremental and day > 1:
            # The rows at the bookmark were removed and read again: replaced, not appended.
            at_bookmark = {2: 10, 3: 4}[day]
            assert figures["deleted"] == at_bookmark, figures
            assert "replaced its re-read window (updated_at >= 2026-01-0" in result.stderr
        if not incremental:
            assert figures["deleted"] == (0 if day == 1 else len(_contacts_day(day - 1)))
            assert "Replaced table shop.contacts of FULL_TABLE stream 'crm-contacts'" in result.stderr


def test_full_table_without_keys_is_swapped_in_before_the_final_state(loader: Loader, tmp_path: Path):
    """Until the end of the input, readers (and a killed run) see the table of the run before."""
    _keyless_run(loader, tmp_path, 1, "records", False, None)
    messages: list[dict | str] = [schema(CONTACTS, CONTACT_PROPS, [])]
    messages += [record(CONTACTS, {"email": f"n{i}@x", "updated_at": "2026-01-04T00:00:00Z"}) for i in range(6)]
    messages.append(state({"other": {"replication_key_value": 1}}))
    proc = subprocess.Popen(
        loader.command(batch_size_rows=2), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(encode(messages))
    proc.stdin.flush()
    # Three batches are committed to the run's temp table and the STATE after them is written ...
    assert json.loads(proc.stdout.readline()) == {"bookmarks": {"other": {"replication_key_value": 1}}}
    # ... while the table is still the old one, whole; a kill now keeps it.
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert loader.query("select count(*) from shop.contacts") == [(len(_contacts_day(1)),)]

    loader.run(messages, batch_size_rows=2)
    assert loader.query("select count(*), min(email) from shop.contacts") == [(6, "n0@x")]


def test_incremental_without_keys_and_without_a_bookmark_reloads_the_table(loader: Loader, tmp_path: Path):
    """A reset bookmark (make state): the extractor reads the whole table, which replaces raw."""
    _keyless_run(loader, tmp_path, 1, "records", True, None)
    _keyless_run(loader, tmp_path, 2, "records", True, None)
    assert loader.query("select count(*) from shop.contacts") == [(len(_contacts_day(2)),)]


# --- schema changes announced ----------------------------------------------------------------------
def test_a_dropped_or_widened_column_is_announced_once(loader: Loader):
    v1 = {
        "id": {"type": "integer"},
        "campaign_key": TEXT,
        "amount": {"type": "number", "x-sql-datatype": "decimal(10,2)"},
    }
    first = loader.run([schema(ORDERS, v1, ["id"]), record(ORDERS, {"id": 1, "campaign_key": "c", "amount": 1.5})])
    assert first.summaries[ORDERS]["schema_changes"] == []
    v2 = {"id": {"type": "integer"}, "amount": {"type": "number", "x-sql-datatype": "decimal(14,2)"}}
    second = loader.run([schema(ORDERS, v2, ["id"]), record(ORDERS, {"id": 2, "amount": 2.25})])
    assert second.summaries[ORDERS]["schema_changes"] == [
        {"stream": ORDERS, "table": "shop.orders", "column": "amount", "change": "widened",
         "from": "DECIMAL(10,2)", "to": "DECIMAL(14,2)"},
        {"stream": ORDERS, "table": "shop.orders", "column": "campaign_key", "change": "dropped",
         "from": "VARCHAR", "to": None},
    ]  # fmt: skip
    warnings = [line for line in second.stderr.splitlines() if "WARNING" in line and "Schema change" in line]
    assert len(warnings) == 2
    assert "stream 'shop-orders': column 'campaign_key' (VARCHAR) is no longer in the source's schema" in warnings[1]
    assert "column 'amount' widened from DECIMAL(10,2) to DECIMAL(14,2)" in warnings[0]
    assert loader.query("select id, campaign_key, amount from shop.orders order by id") == [
        (1, "c", Decimal("1.50")),
        (2, None, Decimal("2.25")),
    ]
    # Announced once: the next run under the same schema is quiet.
    third = loader.run([schema(ORDERS, v2, ["id"]), record(ORDERS, {"id": 3, "amount": 1})])
    assert third.summaries[ORDERS]["schema_changes"] == []
    assert "Schema change" not in third.stderr


# --- uuid -------------------------------------------------------------------------------------------
def test_uuid_lands_as_uuid_through_records_and_csv(loader: Loader, tmp_path: Path):
    props = {
        "id": {"type": "integer"},
        "ref": {"type": ["string", "null"], "format": "uuid"},
        "other": {"type": ["string", "null"], "x-sql-datatype": "uuid"},
    }
    a, b = "0b3c8a7e-1f2d-4c5e-9a8b-7c6d5e4f3a2b", "f47ac10b-58cc-4372-a567-0e02b2c3d479"
    csv = tmp_path / "u.csv"
    csv.write_text(f"2,{b},\n3,,{a}\n")
    loader.run([
        schema(ORDERS, props, ["id"]), record(ORDERS, {"id": 1, "ref": a, "other": b}), batch(ORDERS, [csv], "csv")
    ])  # fmt: skip
    assert loader.types("shop.orders") == {"id": "BIGINT", "ref": "UUID", "other": "UUID"}
    assert loader.query("select id, ref::varchar, other::varchar from shop.orders order by id") == [
        (1, a, b),
        (2, b, None),
        (3, None, a),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("4,not-a-uuid,\n")
    result = loader.run([schema(ORDERS, props, ["id"]), batch(ORDERS, [bad], "csv")], ok=False)
    assert "value 'not-a-uuid' of column 'ref' of stream 'shop-orders'" in result.stderr
    assert "does not convert to UUID" in result.stderr


# --- SIGTERM -----------------------------------------------------------------------------------------
def _contact_stream(first_second: int, last_second: int, every: int) -> tuple[list[dict | str], list[tuple]]:
    """Key-less contacts, two per second of updated_at, every 7th sent twice (an exact duplicate),
    with a STATE after every `every` records (the bookmark: that record's updated_at)."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    messages: list[dict | str] = []
    rows: list[tuple] = []
    n = 0
    for second in range(first_second, last_second + 1):
        for k in range(2):
            row = (f"c{second}-{k}@x", f"{second % 100}.5", (base + timedelta(seconds=second)).isoformat())
            for _ in range(2 if (2 * second + k) % 7 == 0 else 1):
                rows.append(row)
                messages.append(record(CONTACTS, {"email": row[0], "score": float(row[1]), "updated_at": row[2]}))
                n += 1
                if n % every == 0:
                    bookmark = {"replication_key": "updated_at", "replication_key_value": row[2]}
                    messages.append(state({CONTACTS: bookmark}))
    return messages, rows


def test_sigterm_mid_load_stops_at_a_message_boundary_with_no_duplicate(loader: Loader):
    """SIGTERM while batches are committed: the loader finishes the message it handles (a commit
    under way is never cut short nor started twice), commits what it holds, writes the STATE that
    covers it and exits 143. The next run from that STATE makes raw equal the source."""
    last = 6000
    head = [schema(CONTACTS, CONTACT_PROPS, [], bookmark="updated_at")]
    body, source = _contact_stream(1, last, every=150)
    proc = subprocess.Popen(
        loader.command(batch_size_rows=1500),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    log: list[str] = []

    def read_log() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            log.append(line)
            if "committing all streams" in line and len([x for x in log if "committing all streams" in x]) == 2:
                os.kill(proc.pid, signal.SIGTERM)  # as the second batch's commit starts

    def feed() -> None:
        try:
            for line in encode(head + body).splitlines(keepends=True):
                proc.stdin.write(line)  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass  # the loader stopped reading

    threads = [threading.Thread(target=read_log, daemon=True), threading.Thread(target=feed, daemon=True)]
    for thread in threads:
        thread.start()
    states = [json.loads(line) for line in proc.stdout]
    proc.wait(timeout=120)
    for thread in threads:
        thread.join(timeout=30)
    text = "".join(log)
    assert proc.returncode == 143, text[-3000:]
    assert "Received signal 15: stopping at the next message boundary" in text
    assert "draining all sinks" not in text  # the SDK's handler, which drains inside the signal handler
    assert any(line.startswith("baton-loader: ") for line in log)

    # The last STATE covers committed rows only, each exactly once; nothing past the input's end.
    bookmark = states[-1]["bookmarks"][CONTACTS]["replication_key_value"]
    assert bookmark < source[-1][2], "the loader read its whole input before it stopped"
    raw = loader.query("select email, score::varchar, updated_at from shop.contacts")
    below = sorted((e, s, u) for e, s, u in raw if u < datetime.fromisoformat(bookmark))
    expected = sorted((e, s, datetime.fromisoformat(u)) for e, s, u in source if u < bookmark)
    assert below == expected and len(expected) > 1500

    # The extractor resumes at that bookmark (inclusive, echoed first): raw = source.
    resumed_second = int((datetime.fromisoformat(bookmark) - datetime(2026, 1, 1, tzinfo=UTC)).total_seconds())
    rest, _ = _contact_stream(resumed_second, last, every=150)
    echo = state({CONTACTS: {"replication_key": "updated_at", "replication_key_value": bookmark}})
    loader.run([echo, *head, *rest], batch_size_rows=1500)
    raw = loader.query("select email, score::varchar, updated_at from shop.contacts")
    assert sorted(raw) == sorted((e, s, datetime.fromisoformat(u)) for e, s, u in source)
