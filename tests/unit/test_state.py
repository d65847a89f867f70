"""meltano/bin/state.py against a fake `meltano state` that keeps states in a JSON file: every
set, clear and restore keeps a timestamped backup, list shows them, restore takes a chosen one.
And the state DAG refuses to write while the source's ingestion runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import state as state_cli
from baton.metadata import Source
from baton.state_dag import refuse_while_ingesting, source_of_state

FAKE_MELTANO = """#!{python}
import json, sys
from pathlib import Path
store = Path({store!r})
states = json.loads(store.read_text()) if store.exists() else {{}}
_, action, *args = sys.argv[1:]
force = "--force" in args
args = [a for a in args if a != "--force"]
if action == "list":
    print("\\n".join(sorted(states)))
elif action == "get":
    print(json.dumps(states[args[0]]))
elif action == "set":
    states[args[0]] = json.loads(args[1])
elif action == "clear":
    states[args[0]] = {{}}
elif action == "copy":
    states[args[1]] = states[args[0]]
store.write_text(json.dumps(states))
"""
SHOP = "prod:tap-shop-to-target-raw-shop"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store = tmp_path / "states.json"
    store.write_text(json.dumps({SHOP: {"singer_state": {"v": 1}}}))
    fake = tmp_path / "meltano"
    fake.write_text(FAKE_MELTANO.format(python=sys.executable, store=str(store)))
    fake.chmod(0o755)
    monkeypatch.setenv("BATON_MELTANO_BIN", str(fake))
    monkeypatch.setattr(state_cli, "states", lambda: json.loads(store.read_text()), raising=False)
    return state_cli


def test_every_write_keeps_a_timestamped_backup_and_restore_takes_a_chosen_one(state, capsys) -> None:
    assert state.main(["set", SHOP, json.dumps({"singer_state": {"v": 2}})]) == 0
    assert state.main(["set", SHOP, json.dumps({"singer_state": {"v": 3}})]) == 0
    assert state.main(["clear", SHOP]) == 0
    backups = state.backups_of(SHOP, sorted(state.states()))
    assert len(backups) == 3 and all(b.startswith(SHOP + ":backup:") for b in backups)
    assert [state.states()[b]["singer_state"]["v"] for b in backups] == [3, 2, 1]  # newest first

    capsys.readouterr()
    assert state.main(["list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0] == SHOP and [line.split()[-1] for line in listed[1:]] == backups

    oldest = backups[-1]
    assert state.main(["restore", SHOP, oldest.rsplit(":", 1)[-1]]) == 0  # by its timestamp
    assert state.states()[SHOP] == {"singer_state": {"v": 1}}
    # The restore kept the cleared state too: it can be undone.
    assert len(state.backups_of(SHOP, sorted(state.states()))) == 4
    assert state.main(["restore", SHOP]) == 0  # default: the newest backup = the state before that restore
    assert state.states()[SHOP] == {}


def test_refusals_change_nothing(state, capsys) -> None:
    before = state.states()
    assert state.main(["restore", SHOP]) == 1
    assert "no backup" in capsys.readouterr().err
    assert state.main(["set", SHOP, '{"bookmarks": {}}']) == 1
    assert state.main(["clear", "prod:tap-nope-to-target-raw-nope"]) == 1
    assert state.main(["set", SHOP, json.dumps({"singer_state": {}})]) == 0
    assert state.main(["restore", SHOP, "19990101T000000.000000Z"]) == 1
    assert "is not a backup" in capsys.readouterr().err
    assert state.main(["clear", SHOP + ":backup:x"]) == 1
    assert {k: v for k, v in state.states().items() if ":backup" not in k} == {SHOP: {"singer_state": {}}}
    assert before[SHOP] == {"singer_state": {"v": 1}}


def test_the_state_dag_refuses_writes_while_the_source_ingests() -> None:
    sources = (Source("shop", "tap-shop", "target-raw-shop"), Source("my-src", "tap-my-src", "target-raw-my-src"))
    assert source_of_state(SHOP, sources) == "shop"
    assert source_of_state("dev:tap-my-src-to-target-raw-my-src", sources) == "my-src"
    assert source_of_state("dev:tap-other-to-target-raw-other", sources) is None
    assert source_of_state("something-else", sources) is None
    asked = []

    def active(dag_id: str) -> int:
        asked.append(dag_id)
        return 1

    for action in ("set", "clear", "restore"):
        with pytest.raises(ValueError, match="ingest_shop has 1 run"):
            refuse_while_ingesting(action, SHOP, active, sources)
    refuse_while_ingesting("get", SHOP, active, sources)
    refuse_while_ingesting("list", None, active, sources)
    refuse_while_ingesting("set", SHOP, lambda dag_id: 0, sources)
    assert asked == ["ingest_shop"] * 3
