"""`make add-source` scaffolds a source that follows the kit's conventions and parses in dbt."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

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
    assert meltano["jobs"] == [{"name": "el-crm", "tasks": ["tap-crm target-raw-crm"]}]
    if kind == "postgres":
        assert meltano["baton"]["secrets"] == ["BATON_CRM_DB_URL"]
        assert extractor["config"]["sqlalchemy_url"] == "$BATON_CRM_DB_URL"
    else:
        assert meltano["baton"]["folders"] == {"BATON_CRM_DIR": "crm"}
        assert extractor["config"]["files"][0]["path"] == "$BATON_CRM_DIR/contacts_*.csv"
    sources = yaml.safe_load(files[tmp_path / "dbt" / "models" / "staging" / "crm" / "__sources.yml"])
    assert (sources["sources"][0]["database"], sources["sources"][0]["schema"]) == ("raw_crm", "crm")
    sql = files[tmp_path / "dbt" / "models" / "staging" / "crm" / "stg_contacts.sql"]
    assert "source('crm', 'contacts')" in sql and "contact_id as contact_id" in sql


def test_make_add_source_writes_files_once_and_refuses_to_overwrite(repo: Path, tmp_path: Path) -> None:
    copy = tmp_path / "kit"
    for part in ("tools", "meltano/sources", "meltano/bin", "dbt/models/staging"):
        shutil.copytree(repo / part, copy / part)
    shutil.copy(repo / "Makefile", copy / "Makefile")
    shutil.copy(repo / "settings.env", copy / "settings.env")
    run = ["make", "-s", "add-source", "NAME=crm", "KIND=files", "ENTITY=contacts"]
    first = subprocess.run(run, cwd=copy, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert (copy / "meltano" / "sources" / "crm.meltano.yml").is_file()
    assert "Next steps" in first.stdout and "make bake" in first.stdout
    second = subprocess.run(run, cwd=copy, capture_output=True, text=True)
    assert second.returncode != 0 and "exists already" in second.stderr
    bad = subprocess.run(
        ["make", "-s", "add-source", "NAME=Bad-Name", "KIND=files"], cwd=copy, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "Bad-Name" in bad.stderr
