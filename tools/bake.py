"""Bake the DAGs' metadata: what Airflow reads instead of calling meltano or dbt while parsing.

    python tools/bake.py MANIFEST OUT_DIR
writes OUT_DIR/sources.json (from meltano/sources/*.meltano.yml) and OUT_DIR/manifest.json (a copy
of dbt's manifest from `dbt parse`). `make bake` runs it; the images run it at build time.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def sources(meltano_dir: Path) -> list[dict[str, object]]:
    """Each source file's name, plugins and declaration (its `baton:` block: kind, secrets, folders)."""
    found = []
    for path in sorted((meltano_dir / "sources").glob("*.meltano.yml")):
        name = path.name.removesuffix(".meltano.yml")
        data = yaml.safe_load(path.read_text()) or {}
        plugins = data.get("plugins", {})
        extractor, loader = f"tap-{name}", f"target-raw-{name}"
        declared = {p["name"] for kind in ("extractors", "loaders") for p in plugins.get(kind, [])}
        missing = sorted({extractor, loader} - declared)
        if missing:
            raise SystemExit(
                f"error: {path} must declare {' and '.join(missing)} (a source is tap-<name> + target-raw-<name>)"
            )
        block = data.get("baton") or {}
        secrets, folders = block.get("secrets") or [], block.get("folders") or {}
        if block.get("kind") not in ("postgres", "files"):
            raise SystemExit(f"error: {path}: baton.kind must be postgres or files, not {block.get('kind')!r}")
        bad = [v for v in [*secrets, *folders] if not re.fullmatch(r"[A-Z][A-Z0-9_]*", str(v))]
        if bad or not isinstance(secrets, list) or not isinstance(folders, dict):
            raise SystemExit(
                f"error: {path}: baton.secrets is a list and baton.folders a map of upper-case variable names "
                f"(offending: {bad})"
            )
        found.append(
            {
                "name": name,
                "extractor": extractor,
                "loader": loader,
                "kind": block["kind"],
                "secrets": sorted(secrets),
                "folders": dict(sorted(folders.items())),
            }
        )
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    manifest, out = Path(argv[0]), Path(argv[1])
    if not manifest.is_file():
        print(f"error: {manifest} does not exist: run `dbt parse` in dbt/ first", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    (out / "sources.json").write_text(json.dumps(sources(REPO / "meltano"), indent=2) + "\n")
    shutil.copyfile(manifest, out / "manifest.json")
    print(f"baked {out}/sources.json and {out}/manifest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
