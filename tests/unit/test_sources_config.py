"""A source is defined once, by convention, across Meltano and dbt; plugins are pinned.

These checks read the committed config only (no meltano, no dbt)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SOURCE_FILES = sorted((REPO / "meltano" / "sources").glob("*.meltano.yml"))
PLUGIN_FILES = sorted((REPO / "meltano" / "plugins").glob("*.meltano.yml"))


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def _dbt_sources() -> dict[str, dict]:
    found = {}
    for path in (REPO / "dbt" / "models").rglob("*.yml"):
        for source in _load(path).get("sources", []):
            found[source["name"]] = source
    return found


def _package_requirements(package: Path) -> list[str]:
    assert (package / "pyproject.toml").is_file(), f"{package} has no pyproject.toml"
    return tomllib.loads((package / "pyproject.toml").read_text())["project"]["dependencies"]


def test_meltano_project_includes_every_plugin_and_source_file() -> None:
    project = _load(REPO / "meltano" / "meltano.yml")
    assert set(project["include_paths"]) == {"./plugins/*.meltano.yml", "./sources/*.meltano.yml"}
    assert {e["name"] for e in project["environments"]} == {"dev", "ci", "prod"}
    assert SOURCE_FILES and PLUGIN_FILES


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: p.name)
def test_base_plugins_are_pinned_without_hub_lookups(path: Path) -> None:
    for kind, plugins in _load(path)["plugins"].items():
        for plugin in plugins:
            where = f"{path.name}: {kind} {plugin['name']}"
            assert "variant" not in plugin, f"{where}: a variant means a Meltano Hub lookup"
            own = re.fullmatch(r"-e \$MELTANO_PROJECT_ROOT/packages/([\w-]+)", plugin["pip_url"])
            if own:  # the kit's own plugin: its package pins what it needs
                requirements = _package_requirements(REPO / "meltano" / "packages" / own.group(1))
            else:
                requirements = plugin["pip_url"].split()
            unpinned = [r for r in requirements if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[\w.]+", r)]
            assert not unpinned, f"{where}: pin every requirement with ==, not {unpinned}"
            assert plugin.get("namespace") and plugin.get("executable"), where


@pytest.mark.parametrize("path", SOURCE_FILES, ids=lambda p: p.name)
def test_source_file_follows_the_convention(path: Path) -> None:
    source = path.name.removesuffix(".meltano.yml")
    config = _load(path)
    extractors = {p["name"]: p for p in config["plugins"]["extractors"]}
    loaders = {p["name"]: p for p in config["plugins"]["loaders"]}
    assert set(extractors) == {f"tap-{source}"}, f"{path.name} must declare exactly tap-{source}"
    assert set(loaders) == {f"target-raw-{source}"}, f"{path.name} must declare exactly target-raw-{source}"
    loader = loaders[f"target-raw-{source}"]
    assert loader["inherit_from"] == "target-baton-duckdb"
    assert config["baton"]["kind"] in ("postgres", "files"), f"{path.name}: baton.kind"
    assert loader["config"]["path"] == f"$BATON_WAREHOUSE_DIR/raw_{source}.duckdb"
    assert loader["config"]["default_target_schema"] == source
    assert "jobs" not in config, f"{path.name}: the ingestion job runs `meltano run`, not a Meltano job"


def test_dbt_sources_read_the_raw_files_meltano_writes() -> None:
    meltano_sources = {p.name.removesuffix(".meltano.yml") for p in SOURCE_FILES}
    dbt_sources = _dbt_sources()
    assert set(dbt_sources) == meltano_sources
    for name, source in dbt_sources.items():
        assert (source["database"], source["schema"]) == (f"raw_{name}", name), name


def test_domain_tags_are_on_mart_folders() -> None:
    models = _load(REPO / "dbt" / "dbt_project.yml")["models"]["baton"]
    marts = {d.name for d in (REPO / "dbt" / "models" / "marts").iterdir() if d.is_dir()}
    assert {domain: models["marts"][domain]["+tags"] for domain in marts} == {d: [d] for d in marts}
