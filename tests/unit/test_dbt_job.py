"""The dbt job (dbt/bin/dbt_job.py) turns dbt's run_results.json into an exit code a runner acts on
(3 bad data, 2 bad configuration: no retry; 1: retry) and a BATON_RESULT naming the failed tests.
The results below have the shape dbt 1.11 writes (see tests/integration/test_incremental_marts.py
for the real run)."""

from __future__ import annotations

import json
from pathlib import Path

import dbt_job

IN_RANGE = "test.baton.in_range_stg_orders_order_total__1000000__0.cd7623c299"
UNIQUE = "test.baton.unique_orders_order_id.fed79b3a6e"


def _results(*nodes: tuple[str, str, int | None, str | None]) -> dict:
    return {
        "args": {"which": "build"},
        "results": [
            {"unique_id": uid, "status": status, "failures": failures, "message": message}
            for uid, status, failures, message in nodes
        ],
    }


def _manifest(target: Path) -> None:
    target.mkdir(exist_ok=True)
    nodes = {
        IN_RANGE: {"resource_type": "test", "attached_node": "model.baton.stg_orders", "column_name": "order_total"},
        UNIQUE: {"resource_type": "test", "attached_node": "model.baton.orders", "column_name": "order_id"},
    }
    (target / "manifest.json").write_text(json.dumps({"nodes": nodes}))


def test_failed_data_tests_are_bad_data_named_with_their_row_counts(tmp_path: Path) -> None:
    _manifest(tmp_path)
    results = _results(
        ("model.baton.stg_orders", "success", None, "OK"),
        (IN_RANGE, "fail", 3, "Got 3 results, configured to fail if != 0"),
        (UNIQUE, "fail", 1, "Got 1 result, configured to fail if != 0"),
        ("model.baton.revenue_daily", "skipped", None, None),
    )
    result = dbt_job.classify(results, "", 1, tmp_path)
    assert dbt_job.exit_code(result) == 3
    assert result["failure"] == "bad data" and result["errors"] == []
    assert result["failed_tests"] == [
        {"name": "in_range_stg_orders_order_total__1000000__0", "failures": 3, "model": "stg_orders",
         "column": "order_total"},
        {"name": "unique_orders_order_id", "failures": 1, "model": "orders", "column": "order_id"},
    ]  # fmt: skip
    assert result["reason"] == (
        "2 data tests failed: in_range_stg_orders_order_total__1000000__0 (3 rows), unique_orders_order_id (1 row) "
        "(bad data: not retried)"
    )


def test_compile_and_binder_errors_and_failing_unit_tests_are_bad_configuration(tmp_path: Path) -> None:
    compile_error = (
        "Compilation Error in model revenue_daily (models/marts/finance/revenue_daily.sql)\n"
        "  'nosuchmacro' is undefined. This can happen when calling a macro that does not exist."
    )
    binder = (
        "Runtime Error in model revenue_daily (models/marts/finance/revenue_daily.sql)\n"
        '  Binder Error: Referenced column "loaded_att" not found in FROM clause!'
    )
    for node in (
        ("model.baton.revenue_daily", "error", None, compile_error),
        ("model.baton.revenue_daily", "error", None, binder),
        ("unit_test.baton.orders.test_orders_merges_only_what_changed", "fail", None, "actual differs from expected"),
    ):
        result = dbt_job.classify(_results(node), "", 1, tmp_path)
        assert (dbt_job.exit_code(result), result["failure"]) == (2, "bad configuration"), node
    result = dbt_job.classify(_results(("model.baton.revenue_daily", "error", None, binder)), "", 1, tmp_path)
    assert result["errors"] == [
        {"name": "revenue_daily", "message": 'Binder Error: Referenced column "loaded_att" not found in FROM clause!'}
    ]


def test_a_parse_error_before_any_result_is_bad_configuration(tmp_path: Path) -> None:
    output = (
        "21:27:49  Encountered an error:\nCompilation Error in operation baton-on-run-start-0 (./dbt_project.yml)\n"
        "  source 'marketing': its raw database /data/warehouse/raw_marketing.duckdb does not exist yet.\n"
    )
    result = dbt_job.classify(None, output, 2, tmp_path)
    assert (dbt_job.exit_code(result), result["failure"]) == (2, "bad configuration")
    assert "Compilation Error in operation baton-on-run-start-0" in result["reason"]


def test_transient_faults_keep_their_retries_even_when_dbt_says_2(tmp_path: Path) -> None:
    locked = (
        '_duckdb.IOException: IO Error: Could not set lock on file "/data/warehouse/analytics.duckdb": '
        "Conflicting lock is held in /usr/bin/python3 (PID 7)"
    )
    result = dbt_job.classify(None, f"Traceback (most recent call last):\n{locked}\n", 2, tmp_path)
    assert (dbt_job.exit_code(result), result["failure"]) == (1, "transient")
    assert "Could not set lock" in result["reason"] and result["reason"].endswith("(transient: retryable)")
    lost = _results(
        (IN_RANGE, "fail", 2, "Got 2 results"),
        ("model.baton.orders", "error", None, "Runtime Error in model orders\n  IO Error: connection lost"),
    )
    assert dbt_job.exit_code(dbt_job.classify(lost, "", 1, tmp_path)) == 1, "a retry may heal the error"
    assert dbt_job.exit_code(dbt_job.classify(None, "", 1, tmp_path)) == 1


def test_a_successful_build_counts_what_it_ran(tmp_path: Path) -> None:
    results = _results(("model.baton.orders", "success", None, "OK"), (UNIQUE, "pass", 0, None))
    result = dbt_job.classify(results, "", 0, tmp_path)
    assert dbt_job.exit_code(result) == 0
    assert result == {"command": "build", "ok": True, "models": 1, "tests": 1, "failed_tests": [], "errors": []}


def test_only_results_written_by_this_invocation_count(tmp_path: Path) -> None:
    (tmp_path / "run_results.json").write_text(json.dumps(_results((IN_RANGE, "fail", 1, "x"))))
    assert dbt_job.read_results(tmp_path, since=0) is not None
    assert dbt_job.read_results(tmp_path, since=4102444800) is None  # an earlier run's file
    assert dbt_job.target_path(["build", "--target-path", "/t"]) == Path("/t")
    assert dbt_job.target_path(["build"], project=Path("/p")) == Path("/p/target")


def test_what_the_project_said_in_a_result_line_is_kept_in_the_jobs_result() -> None:
    # Lake mode: the on-run-end macro prints the snapshot the build left; the job's own line, which
    # the runner reads (the last one), must carry it into the dbt_<domain> event.
    lines = ["12:00:01  Running 1 on-run-end hook\n", 'BATON_RESULT: {"snapshot_id": 42, "cycle_id": "2026-11-29"}\n']
    assert dbt_job.said_by_dbt(lines) == {"snapshot_id": 42, "cycle_id": "2026-11-29"}
    assert dbt_job.said_by_dbt(["no result here\n", "BATON_RESULT: {not json\n"]) == {}


CONFLICT = (
    'Catalog Error: Could not rename view "stg_orders__dbt_tmp" to "stg_orders": '
    "another entry with this name already exists!"
)


def test_a_build_that_lost_a_lake_catalog_race_runs_again_in_the_job(tmp_path: Path, monkeypatch, capfd) -> None:
    # Two domains building a staging view they share at once: the loser's catalog error is not bad
    # configuration; the job runs the build again (here a dbt stand-in that loses the race once).
    dbt = tmp_path / "dbt"
    dbt.write_text(
        "#!/bin/sh\n"
        'mkdir -p "$PWD/target"; n=$(cat "$PWD/tries" 2>/dev/null || echo 0); echo $((n + 1)) > "$PWD/tries"\n'
        f"if [ \"$n\" = 0 ]; then echo '{CONFLICT}'; status=error; code=1; else status=success; code=0; fi\n"
        'printf \'{"args": {"which": "build"}, "results": [{"unique_id": "model.baton.stg_orders", '
        '"status": "%s", "failures": null, "message": "%s"}]}\' "$status" "lost a race" \\\n'
        '  > "$PWD/target/run_results.json"\n'
        "exit $code\n"
    )
    dbt.chmod(0o755)
    monkeypatch.setenv("BATON_DBT_BIN", str(dbt))
    monkeypatch.setattr(dbt_job, "CONFLICT_DELAYS", (0,))
    assert dbt_job.run(["build", "--select", "tag:marketing"], project=tmp_path) == 0
    assert (tmp_path / "tries").read_text().strip() == "2"
    assert "lost a race for a lake catalog entry to another writer: try 2" in capfd.readouterr().out
    # Out of tries, it stays retryable for the task (never "bad configuration").
    result = dbt_job.classify(None, CONFLICT, 1, tmp_path)
    assert (dbt_job.exit_code(result), result["failure"]) == (1, "transient")
