"""The job contract (packages/baton-contract): result lines, naming, source declarations, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from baton_contract import job, naming
from baton_contract.declaration import ContractError, declaration
from baton_contract.settings import read_settings_file, setting

REPO = Path(__file__).resolve().parents[2]


def test_result_line_round_trips_and_the_last_one_wins():
    lines = ["noise", job.result_line({"rows": 1}), "more", job.result_line({"rows": 2, "ok": True}), "tail"]
    assert job.baton_result(lines) == {"rows": 2, "ok": True}
    assert job.job_result(lines) == {"rows": 2, "ok": True}


def test_rows_fall_back_to_the_extractors_metrics():
    lines = [
        'METRIC: {"metric": "record_count", "value": 7, "tags": {"stream": "shop-orders"}}',
        'METRIC: {"metric": "record_count", "value": 3, "tags": {"stream": "shop-orders"}}',
        'METRIC: {"metric": "http_request_duration", "value": 9}',
        'baton-loader: {"stream": "shop-orders", "rows": 10} trailing text',
    ]
    assert job.records_read(lines) == {"shop-orders": 10}
    assert job.loader_reports(lines) == {"shop-orders": {"stream": "shop-orders", "rows": 10}}
    assert job.job_result(lines) == {"rows": 10}
    assert job.job_result(["nothing here"]) is None


def test_names_follow_from_the_source_and_domain():
    assert naming.plugins("crm") == ("tap-crm", "target-raw-crm")
    assert naming.raw_file("crm") == "raw_crm.duckdb"
    assert naming.source_of(naming.raw_name("crm")) == "crm"
    assert (naming.ingest_dag("crm"), naming.dbt_dag("finance")) == ("ingest_crm", "dbt_finance")


def _source_file(tmp_path: Path, body: str) -> Path:
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "crm.meltano.yml").write_text(body)
    return tmp_path


PLUGINS = """
plugins:
  extractors: [{name: tap-crm, inherit_from: tap-baton-postgres}]
  loaders: [{name: target-raw-crm, inherit_from: target-baton-duckdb}]
"""


def test_the_shipped_sources_declare_themselves():
    shop = declaration("shop", REPO / "meltano", environ={})
    assert (shop.kind, shop.reconcile, shop.secrets) == ("postgres", "fail", ["BATON_SHOP_DB_URL"])


def test_a_bad_block_names_the_file_the_key_and_the_value(tmp_path):
    project = _source_file(tmp_path, "baton: {kind: sftp}\n" + PLUGINS)
    with pytest.raises(ContractError) as err:
        declaration("crm", project, environ={})
    assert err.value.code == job.EXIT_CONFIG
    assert "crm.meltano.yml" in str(err.value) and "baton.kind" in str(err.value) and "'sftp'" in str(err.value)


def test_secrets_must_be_variable_names_and_the_environment_overrides_reconcile(tmp_path):
    project = _source_file(tmp_path, "baton: {kind: postgres, secrets: [lower_case]}\n" + PLUGINS)
    with pytest.raises(ContractError, match=r"baton\.secrets: .*'lower_case' is not an upper-case"):
        declaration("crm", project, environ={})
    (project / "sources" / "crm.meltano.yml").write_text("baton: {kind: postgres}\n" + PLUGINS)
    assert declaration("crm", project, environ={"BATON_RECONCILE": "warn"}).reconcile == "warn"


def test_an_unknown_source_lists_the_known_ones(tmp_path):
    project = _source_file(tmp_path, "baton: {kind: files}\n" + PLUGINS)
    with pytest.raises(ContractError, match=r"no source 'web'.*known sources: crm"):
        declaration("web", project, environ={})


def test_missing_plugins_are_named(tmp_path):
    project = _source_file(tmp_path, "baton: {kind: files}\n")
    with pytest.raises(ContractError, match="must declare the extractor tap-crm and the loader target-raw-crm"):
        declaration("crm", project, environ={})


def test_settings_the_environment_wins_then_the_files_in_order(tmp_path):
    first, second = tmp_path / "images.env", tmp_path / "settings.env"
    first.write_text("A=from-first\n")
    second.write_text("# a comment\nA=from-second\nB=only-second\nnot a setting\n")
    assert read_settings_file(second) == {"A": "from-second", "B": "only-second"}
    assert setting("A", first, second, env={}) == "from-first"
    assert setting("B", first, second, env={}) == "only-second"
    assert setting("A", first, second, env={"A": "env"}) == "env"
    assert setting("C", first, second, env={}) is None
    assert read_settings_file(tmp_path / "absent.env") == {}


def test_retry_tries_again_on_what_it_is_told_and_reports_each_wait():
    from baton_contract.waiting import retry

    calls, reported = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("database restarting")
        return "loaded"

    def report(exc, attempt, delay):
        reported.append((str(exc), attempt, delay))

    assert (
        retry(flaky, delays=(0.01, 0.02, 0.03), when=lambda e: isinstance(e, ConnectionError), before_sleep=report)
        == "loaded"
    )
    assert reported == [("database restarting", 2, 0.01), ("database restarting", 3, 0.02)]
    with pytest.raises(ValueError):
        retry(
            lambda: (_ for _ in ()).throw(ValueError("bad data")),
            delays=(0.01,),
            when=lambda e: isinstance(e, ConnectionError),
        )
    calls.clear()
    with pytest.raises(ConnectionError):  # out of tries: the last error propagates
        retry(flaky, delays=(0.01,), when=lambda e: isinstance(e, ConnectionError))
    assert len(calls) == 2


def test_poll_returns_the_first_truthy_answer_or_names_what_it_waited_for():
    from baton_contract.waiting import WaitTimeout, poll

    answers = iter([None, [], {"state": "success"}])
    assert poll(lambda: next(answers), timeout=5, every=0.01, what="the cycle run") == {"state": "success"}
    with pytest.raises(WaitTimeout, match=r"the DAGs of the stack: not within 0.05 s"):
        poll(lambda: None, timeout=0.05, every=0.01, what="the DAGs of the stack")
