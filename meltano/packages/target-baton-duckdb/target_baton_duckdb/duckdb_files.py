"""Warehouse files (`files` mode): refuse, with what to do, a file this duckdb cannot read."""

from __future__ import annotations

import struct
from pathlib import Path

import duckdb

from target_baton_duckdb.warehouse_settings import WarehouseError

# The storage versions this duckdb reads (1.5.x: 64..68); a file written by duckdb 2.0 carries a higher one.
NEWEST_READABLE_STORAGE = 68


def _storage_version(path: Path) -> int | None:
    try:
        with path.open("rb") as fh:
            header = fh.read(20)
    except OSError:
        return None
    if len(header) < 20 or header[8:12] != b"DUCK":
        return None
    return struct.unpack("<Q", header[12:20])[0]


def newer_file_error(path: Path, exc: Exception | None = None) -> WarehouseError | None:
    """A clear error for a DuckDB file written by a newer DuckDB (e.g. 2.0) than this one, else None."""
    version = _storage_version(path)
    if not ((version is not None and version > NEWEST_READABLE_STORAGE) or "newer version of DuckDB" in str(exc or "")):
        return None
    return WarehouseError(
        f"{path} was written by a newer DuckDB (storage version {version}) than this kit's duckdb "
        f"{duckdb.__version__}, which cannot read it (DuckLake's extensions exist for duckdb 1.5.x only, so the kit "
        "holds 1.5). Either start the sandbox's data over: `make reset CONFIRM=yes`, then `make up` (the sources "
        "load again from the start); or keep the data: with duckdb 2.0 run `EXPORT DATABASE 'dump' (FORMAT parquet)` "
        f"on the file, move it aside, and with duckdb {duckdb.__version__} `IMPORT DATABASE 'dump'` into a new file "
        "of the same name."
    )


def check_files(paths: list[Path]) -> None:
    """Refuse, with what to do, files that this duckdb cannot read (written by a newer DuckDB)."""
    for path in paths:
        error = newer_file_error(path)
        if error:
            raise error
