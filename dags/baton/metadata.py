"""Sources and dbt lineage, read from files baked at build time (never from meltano or dbt).

    <metadata_dir>/sources.json    [{"name": "shop", "extractor": "tap-shop", "loader": "target-raw-shop",
                                     "kind": "postgres", "secrets": ["BATON_SHOP_DB_URL"], "folders": {}}]
    <metadata_dir>/manifest.json   dbt's manifest (`dbt parse`)

`make bake` writes both (tools/bake.py); the images bake them at build time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


class MetadataError(RuntimeError):
    """Baked metadata is missing or malformed; the message says which file and how to fix it."""


@dataclass(frozen=True)
class Source:
    name: str
    extractor: str
    loader: str
    kind: str = "postgres"
    # Environment variables holding the source's secrets: the job gets them from the worker.
    secrets: tuple[str, ...] = ()


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise MetadataError(f"{path} is missing: bake the DAG metadata first (`make bake`)") from None
    except json.JSONDecodeError as exc:
        raise MetadataError(f"{path} is not valid JSON ({exc}): bake it again (`make bake`)") from None


@lru_cache(maxsize=8)
def load_sources(metadata_dir: Path) -> tuple[Source, ...]:
    path = metadata_dir / "sources.json"
    data = _read_json(path)
    try:
        return tuple(
            Source(s["name"], s["extractor"], s["loader"], s["kind"], tuple(s["secrets"]))
            for s in data  # type: ignore[union-attr]
        )
    except (KeyError, TypeError) as exc:
        raise MetadataError(
            f"{path}: every source needs name, extractor, loader, kind and secrets ({exc}): bake it again (`make bake`)"
        ) from None


@lru_cache(maxsize=8)
def load_manifest(metadata_dir: Path) -> dict:
    manifest = _read_json(metadata_dir / "manifest.json")
    if not isinstance(manifest, dict) or "nodes" not in manifest or "sources" not in manifest:
        raise MetadataError(f"{metadata_dir / 'manifest.json'} is not a dbt manifest")
    return manifest


def domain_sources(manifest: dict) -> dict[str, set[str]]:
    """Each domain tag -> the sources its tagged models read, through any chain of refs."""
    nodes, sources = manifest["nodes"], manifest["sources"]
    reads: dict[str, set[str]] = {}

    def sources_of(unique_id: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if unique_id in reads:
            return reads[unique_id]
        if unique_id in sources:
            return {sources[unique_id]["source_name"]}
        node = nodes.get(unique_id)
        if node is None or unique_id in seen:
            return set()
        found: set[str] = set()
        for parent in node.get("depends_on", {}).get("nodes", []):
            found |= sources_of(parent, seen | {unique_id})
        reads[unique_id] = found
        return found

    domains: dict[str, set[str]] = {}
    for unique_id, node in nodes.items():
        if node.get("resource_type") != "model":
            continue
        for tag in node.get("tags", []):
            domains.setdefault(tag, set()).update(sources_of(unique_id))
    return domains
