"""Bake the DAGs' metadata: what Airflow reads instead of calling meltano or dbt while parsing.

    python tools/bake.py MANIFEST OUT_DIR
writes OUT_DIR/sources.json (from meltano/sources/*.meltano.yml) and OUT_DIR/manifest.json (a copy
of dbt's manifest from `dbt parse`). `make bake` runs it; the images run it at build time.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from baton_contract.declaration import ContractError, declaration
from baton_contract.naming import plugins

REPO = Path(__file__).resolve().parent.parent


def sources(meltano_dir: Path) -> list[dict[str, object]]:
    """Each source file's name, plugins and declaration (its `baton:` block: kind, secrets, folders)."""
    found = []
    for path in sorted((meltano_dir / "sources").glob("*.meltano.yml")):
        name = path.name.removesuffix(".meltano.yml")
        try:
            decl = declaration(name, meltano_dir)
        except ContractError as exc:
            raise SystemExit(f"error: {exc}") from None
        extractor, loader = plugins(name)
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
