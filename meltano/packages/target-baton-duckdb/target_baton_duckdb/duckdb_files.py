"""Warehouse files (`files` mode): refuse, with what to do, a file this duckdb cannot read; take
the writer's turn of a file (DuckDB takes one writer per file)."""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

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


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def take_writer_turn(path: Path, say: Callable[[str], None] = _say) -> IO[str] | None:
    """Wait for the writer's turn of the DuckDB file `path`, then hold it until the returned file is
    closed or the process ends (a killed one included: the kernel lets go of the lock; on EFS, the
    lock of a task that vanished goes when its NFS lease lapses).

    The turn is an exclusive lock (flock) on `<file>.lock` beside it, so that writers starting
    together (dbt builds of several domains) do their own preparing side by side and write one after
    the other, instead of failing on DuckDB's lock. The holder writes who it is into the lock file;
    a waiter says whom it waits for. Where the file system has no locks, returns None: DuckDB's own
    lock still refuses a second writer."""
    lock = path.with_name(path.name + ".lock")
    fh = None
    try:
        fh = open(lock, "a+")  # noqa: SIM115 - held open past this function: the open file is the turn
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another writer"
        say(f"{path.name} is being written by {holder}: waiting for its turn (DuckDB takes one writer per file)")
        started = time.monotonic()
        fcntl.flock(fh, fcntl.LOCK_EX)
        say(f"{path.name}: this writer's turn, after {time.monotonic() - started:.1f} s of waiting")
    except OSError as exc:  # a folder that cannot be written, a file system without locks
        if fh is not None:
            fh.close()
        say(f"{path.name}: no writer's turn taken ({lock}: {exc}); DuckDB's own lock refuses a second writer")
        return None
    fh.truncate(0)
    command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:200]
    fh.write(f"{command} (host {socket.gethostname()}, pid {os.getpid()}, since {time.strftime('%H:%M:%S')})\n")
    fh.flush()
    return fh
