"""Bake the DAGs' metadata: what Airflow reads instead of calling meltano or dbt while parsing.

    python tools/bake.py MANIFEST OUT_DIR
writes OUT_DIR/sources.json (from meltano/sources/*.meltano.yml) and OUT_DIR/manifest.json (a copy
of dbt's manifest from `dbt parse`). `make bake` runs it; the images run it at build time.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _job_module(meltano_dir: Path):
    """meltano/bin/el.py, the ingestion job: it defines a source's declaration and plugin names."""
    spec = importlib.util.spec_from_file_location("baton_el", meltano_dir / "bin" / "el.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["baton_el"] = module
    spec.loader.exec_module(module)
    return module


def sources(meltano_dir: Path) -> list[dict[str, object]]:
    """Each source file's name, plugins and declaration (its `baton:` block: kind, secrets, folders)."""
    el = _job_module(meltano_dir)
    found = []
    for path in sorted((meltano_dir / "sources").glob("*.meltano.yml")):
        name = path.name.removesuffix(".meltano.yml")
        try:
            decl = el.declaration(name, meltano_dir)
        except el.JobError as exc:
            raise SystemExit(f"error: {exc}") from None
        bad = [v for v in [*decl.secrets, *decl.folders] if not re.fullmatch(r"[A-Z][A-Z0-9_]*", str(v))]
        if bad:
            raise SystemExit(f"error: {path}: baton.secrets and baton.folders name upper-case variables, not {bad}")
        extractor, loader = el.plugins(name)
        found.append(
            {
                "name": name,
                "extractor": extractor,
                "loader": loader,
                "kind": decl.kind,
                "secrets": sorted(decl.secrets),
                "folders": dict(sorted(decl.folders.items())),
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
