"""Hard-link identical files under the given folders (one copy on disk and in the image layer).

    python dedupe.py DIR...

Each Meltano plugin has its own virtualenv, and the Meltano and dbt environments are separate
too, so the same wheels (DuckDB, SQLAlchemy, psycopg, pydantic-core ...) are installed several
times. Identical files are linked to one inode; nothing else changes. Files are only ever read.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections import defaultdict
from pathlib import Path

MIN_SIZE = 16 * 1024  # small files are not worth a hash


def digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=32)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(roots: list[str]) -> int:
    by_size: dict[int, list[Path]] = defaultdict(list)
    for root in roots:
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = Path(dirpath) / name
                if path.is_symlink() or not path.is_file():
                    continue
                size = path.stat().st_size
                if size >= MIN_SIZE:
                    by_size[size].append(path)
    saved = 0
    for size, paths in by_size.items():
        if len(paths) < 2:
            continue
        first: dict[str, Path] = {}
        for path in paths:
            key = digest(path)
            keep = first.setdefault(key, path)
            if keep is path or keep.stat().st_ino == path.stat().st_ino:
                continue
            tmp = path.with_name(path.name + ".dedupe")
            os.link(keep, tmp)
            os.replace(tmp, path)
            saved += size
    print(f"dedupe: {saved / 1e6:.0f} MB of identical files linked")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
