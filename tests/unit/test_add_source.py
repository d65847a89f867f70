"""`make add-source` scaffolds a source that follows the kit's conventions and parses in dbt; a
postgres source is scaffolded from its discovery (the catalog below is tap-baton-postgres's real
output for a schema `crm` with a key-less table, a keyed table with modified_at and one without an
updated_at-like column); `python -m tools.add_source remove` takes a source out again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from baton_contract.declaration import declaration

from tools import add_source


@pytest.mark.parametrize("kind", ["postgres", "files"])
def test_scaffold_writes_a_source_that_follows_the_convention(tmp_path: Path, kind: str) -> None:
    files = add_source.plan("crm", kind, "contacts", "contact_id", "public", repo=tmp_path)
    meltano = yaml.safe_load(files[tmp_path / "meltano" / "sources" / "crm.meltano.yml"])
    assert meltano["baton"]["kind"] == kind
    extractor = meltano["plugins"]["extractors"][0]
    loader = meltano["plugins"]["loaders"][0]
    assert (extractor["name"], loader["name"]) == ("tap-crm", "target-raw-crm")
    assert loader["config"] == {**loader["config"], "path": "$BATON_WAREHOUSE_DIR/raw_crm.duckdb"}
    assert "jobs" not in meltano
    if kind == "postgres":
        assert meltano["baton"]["secrets"] == ["BATON_CRM_DB_URL"]
        assert extractor["config"]["sqlalchemy_url"] == "$BATON_CRM_DB_URL"
    else:
        assert meltano["baton"]["folders"] == {"BATON_CRM_DIR": "crm"}
        assert extractor["config"]["files"][0]["path"] == "$BATON_CRM_DIR/contacts_*.csv"
    sources = yaml.safe_load(files[tmp_path / "dbt" / "models" / "staging" / "crm" / "__sources.yml"])
    assert (sources["sources"][0]["database"], sources["sources"][0]["schema"]) == ("raw_crm", "crm")
    sql = files[tmp_path / "dbt" / "models" / "staging" / "crm" / "stg_contacts.sql"]
    assert "source('crm', 'contacts')" in sql and "contact_id,\n        * exclude (contact_id)" in sql
    # The ingestion job reads the file as the contract declares it.
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    declared = declaration("crm", tmp_path / "meltano", environ={})
    assert (declared.kind, declared.extractor["name"]) == (kind, "tap-crm")
    assert (declared.secrets, declared.folders) == (
        (["BATON_CRM_DB_URL"], {}) if kind == "postgres" else ([], {"BATON_CRM_DIR": "crm"})
    )


def _uv(repo: Path) -> list[str]:
    """The uv this run uses, for a make in a copy (which has none of its own to download): the one
    `uv run` names in $UV (the Makefile reads it too), else the one on PATH, else the checkout's."""
    found = os.environ.get("UV") or shutil.which("uv") or str(repo / ".baton" / "tools" / "bin" / "uv")
    return [f"UV={found}"]


def test_make_add_source_writes_files_once_and_refuses_to_overwrite(repo: Path, tmp_path: Path) -> None:
    copy = tmp_path / "kit"
    for part in ("tools", "meltano/sources", "dbt/models/staging"):
        shutil.copytree(repo / part, copy / part)
    shutil.copy(repo / "Makefile", copy / "Makefile")
    shutil.copy(repo / "settings.env", copy / "settings.env")
    # The copy has no environment of its own: the tools run in this one.
    run = [
        "make",
        "-s",
        "add-source",
        "NAME=crm",
        "KIND=files",
        "ENTITY=contacts",
        f"TOOLS_PYTHON={sys.executable}",
        *_uv(repo),
    ]
    first = subprocess.run(run, cwd=copy, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert (copy / "meltano" / "sources" / "crm.meltano.yml").is_file()
    assert "Next steps" in first.stdout and "make bake" in first.stdout
    second = subprocess.run(run, cwd=copy, capture_output=True, text=True)
    assert second.returncode != 0 and "exists already" in second.stderr
    bad = subprocess.run(
        ["make", "-s", "add-source", "NAME=Bad-Name", "KIND=files", f"TOOLS_PYTHON={sys.executable}", *_uv(repo)],
        cwd=copy,
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "Bad-Name" in bad.stderr


CATALOG = json.loads((Path(__file__).parent / "data" / "crm_discovery.json").read_text())


def _kit(repo: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "kit"
    for part in ("tools", "meltano/sources", "dbt/models", "dbt/macros", "dbt/tests"):
        shutil.copytree(repo / part, copy / part)
    for part in ("Makefile", "settings.env", "dbt/dbt_project.yml", "dbt/profiles.yml"):
        shutil.copy(repo / part, copy / part)
    return copy


def test_discovery_picks_keys_and_replication_per_table() -> None:
    tables = {t.name: t for t in add_source.tables_from_catalog(CATALOG, "crm")}
    assert sorted(tables) == ["accounts", "contacts", "notes"]
    assert (tables["contacts"].keys, tables["contacts"].replication_key) == ([], "updated_at")
    assert (tables["notes"].keys, tables["notes"].replication_key) == (["id"], "modified_at")
    assert (tables["accounts"].keys, tables["accounts"].replication_key) == (["account_id"], None)
    assert tables["contacts"].columns == ["email", "full_name", "score", "tags", "updated_at"]
    only = add_source.tables_from_catalog(CATALOG, "crm", entity="contacts")
    assert [t.name for t in only] == ["contacts"]
    assert add_source.tables_from_catalog(CATALOG, "public") == []
    # A timestamp named like a change time counts; a created_at or a text column named updated_at does not.
    assert add_source.replication_key({"created_at": {"format": "date-time"}, "id": {}}) is None
    assert add_source.replication_key({"updated_at": {"type": ["string"]}}) is None
    assert add_source.replication_key({"row_last_modified": {"format": "date-time"}}) == "row_last_modified"


def test_a_discovered_source_selects_its_tables_with_their_keys_and_replication(tmp_path: Path) -> None:
    tables = add_source.tables_from_catalog(CATALOG, "crm")
    files = add_source.plan("crm", "postgres", "crm", "id", "crm", repo=tmp_path, tables=tables)
    extractor = yaml.safe_load(files[tmp_path / "meltano" / "sources" / "crm.meltano.yml"])["plugins"]["extractors"][0]
    assert extractor["select"] == ["crm-accounts.*", "crm-contacts.*", "crm-notes.*"]
    assert extractor["metadata"] == {
        "crm-accounts": {"table-key-properties": ["account_id"], "replication-method": "FULL_TABLE"},
        "crm-contacts": {
            "table-key-properties": [],
            "replication-method": "INCREMENTAL",
            "replication-key": "updated_at",
        },
        "crm-notes": {
            "table-key-properties": ["id"],
            "replication-method": "INCREMENTAL",
            "replication-key": "modified_at",
        },
    }
    staging = tmp_path / "dbt" / "models" / "staging" / "crm"
    contacts = files[staging / "stg_contacts.sql"]
    assert "contact_id" not in contacts and " id" not in contacts, "a table without id gets no id column"
    assert "email,\n        full_name,\n        score,\n        tags,\n        updated_at," in contacts
    assert "id as note_id," in files[staging / "stg_notes.sql"]
    sources = yaml.safe_load(files[staging / "__sources.yml"])["sources"][0]["tables"]
    # Keys are tested once, on the staging models.
    assert sources == [{"name": "accounts"}, {"name": "contacts"}, {"name": "notes"}]
    models = {m["name"]: m for m in yaml.safe_load(files[staging / "stg_crm.yml"])["models"]}
    assert [c["name"] for c in models["stg_contacts"]["columns"]] == ["loaded_at"]
    assert models["stg_notes"]["columns"][0] == {"name": "note_id", "data_tests": ["unique", "not_null"]}
    assert [c["name"] for c in models["stg_notes"]["columns"]] == ["note_id", "loaded_at"]


def test_an_unreachable_source_is_named_and_gets_the_stub(repo: Path, tmp_path: Path) -> None:
    kit = _kit(repo, tmp_path)
    (tmp_path / "empty.env").write_text("BATON_PROJECT=nothing-here\n")
    env = {k: v for k, v in os.environ.items() if k != "BATON_CRM_DB_URL"}
    env["BATON_ENV_PATH"] = str(tmp_path / "empty.env")
    done = subprocess.run(
        [sys.executable, "-m", "tools.add_source", "crm", "postgres", "--entity", "contacts", "--schema", "crm"],
        cwd=kit,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "could not reach source 'crm': BATON_CRM_DB_URL is not set" in done.stdout
    assert "writing the stub without discovery (contacts, key id)" in done.stdout
    meltano = yaml.safe_load((kit / "meltano" / "sources" / "crm.meltano.yml").read_text())
    assert meltano["plugins"]["extractors"][0]["select"] == ["crm-contacts.*"]
    assert (kit / "dbt" / "models" / "staging" / "crm" / "stg_contacts.sql").is_file()


def _remove(kit: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.add_source", "remove", *args], cwd=kit, capture_output=True, text=True
    )


def test_remove_takes_out_what_add_wrote_and_refuses_unknown_or_read_sources(repo: Path, tmp_path: Path) -> None:
    kit = _kit(repo, tmp_path)

    def files() -> list[str]:
        return sorted(str(p.relative_to(kit)) for p in kit.rglob("*") if "__pycache__" not in p.parts)

    before = files()
    added = subprocess.run(
        [sys.executable, "-m", "tools.add_source", "crm", "files", "--entity", "contacts", "--key", "contact_id"],
        cwd=kit,
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr
    removed = _remove(kit, "crm")
    assert removed.returncode == 0, removed.stderr
    assert "removed meltano/sources/crm.meltano.yml" in removed.stdout
    assert "removed dbt/models/staging/crm/" in removed.stdout
    assert files() == before, "remove left a file add wrote"

    unknown = _remove(kit, "crm")
    assert unknown.returncode == 1
    assert "no source 'crm'" in unknown.stderr and "known: marketing, shop" in unknown.stderr

    read = _remove(kit, "shop")
    assert read.returncode == 1 and "dbt/models/marts/finance/orders.sql" in read.stderr
    assert (kit / "meltano" / "sources" / "shop.meltano.yml").is_file(), "a refused remove deleted something"
    forced = _remove(kit, "shop", "--force")
    assert forced.returncode == 0 and not (kit / "dbt" / "models" / "staging" / "shop").exists()


def test_dbt_names_follow_the_loaders_table_and_column_names(tmp_path: Path) -> None:
    notes = add_source.Table(
        name="Notes", columns=["id", "order", "Body Text"], keys=["id"], replication_key="modified_at", discovered=True
    )
    files = add_source.plan("crm", "postgres", "crm", "id", "crm", repo=tmp_path, tables=[notes])
    extractor = yaml.safe_load(files[tmp_path / "meltano" / "sources" / "crm.meltano.yml"])["plugins"]["extractors"][0]
    assert extractor["select"] == ["crm-Notes.*"], "the select list uses the source's own stream id"
    staging = tmp_path / "dbt" / "models" / "staging" / "crm"
    sql = files[staging / "stg_notes.sql"]
    assert "source('crm', 'notes')" in sql
    assert 'id as note_id,\n        "order",\n        body_text,' in sql
