"""Removal: what the scaffold wrote (the Meltano file and the staging folder) taken out again."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from baton_contract.naming import ingest_dag, raw_file

from .model import REPO


def known_sources(repo: Path = REPO) -> list[str]:
    return sorted(p.name.removesuffix(".meltano.yml") for p in (repo / "meltano" / "sources").glob("*.meltano.yml"))


def readers(name: str, repo: Path = REPO) -> list[str]:
    """Files outside the source's staging folder that read it (source('name', ...) or its stg_ models)."""
    staging = repo / "dbt" / "models" / "staging" / name
    models = [p.stem for p in staging.glob("*.sql")] if staging.is_dir() else []
    reads = [rf"source\(\s*['\"]{re.escape(name)}['\"]", *(rf"ref\(\s*['\"]{re.escape(m)}['\"]" for m in models)]
    pattern = re.compile("|".join(reads))
    found = []
    for path in sorted((repo / "dbt").rglob("*")):
        if path.suffix not in (".sql", ".yml") or staging in path.parents or "target" in path.parts:
            continue
        if pattern.search(path.read_text(errors="replace")):
            found.append(str(path.relative_to(repo)))
    return found


def remove(name: str, force: bool = False, repo: Path = REPO) -> int:
    meltano_file = repo / "meltano" / "sources" / f"{name}.meltano.yml"
    staging = repo / "dbt" / "models" / "staging" / name
    if not meltano_file.exists() and not staging.exists():
        known = ", ".join(known_sources(repo)) or "none"
        where = f"{meltano_file.relative_to(repo)} nor {staging.relative_to(repo)}/"
        print(f"error: no source '{name}': neither {where} exists (known: {known}); nothing removed", file=sys.stderr)
        return 1
    still_read = readers(name, repo)
    if still_read and not force:
        print(
            f"error: source '{name}' is still read by {', '.join(still_read)}: change those models first "
            f"(or remove it anyway with --force; dbt will then fail to parse them); nothing removed",
            file=sys.stderr,
        )
        return 1
    for path in (meltano_file, staging):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        print(f"removed {path.relative_to(repo)}{'/' if path.suffix == '' else ''}")
    upper = name.upper()
    print(
        f"Source '{name}' removed from the project. Its data is kept: {raw_file(name)} in the warehouse, "
        f"its Meltano state, and BATON_{upper}_DB_URL or BATON_{upper}_DIR in compose/.env if you set them.\n"
        f"Next: make bake && make up (its DAG {ingest_dag(name)} goes away)."
    )
    return 0
