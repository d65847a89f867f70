"""DuckDB's extensions (ducklake, postgres, httpfs, aws) from the PyPI wheels pinned with duckdb
(`duckdb-extension-<name>`), never from the network."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import duckdb

from target_baton_duckdb.quoting import literal
from target_baton_duckdb.warehouse_settings import WarehouseError

EXTENSIONS = ("ducklake", "postgres", "httpfs", "aws")
# DuckDB names the postgres extension's file postgres_scanner.
EXTENSION_FILES = {"postgres": "postgres_scanner"}


def wheel_file(name: str) -> Path:
    """The extension file shipped by the PyPI wheel duckdb-extension-<name> of this duckdb's version."""
    try:
        module = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError as exc:
        raise WarehouseError(
            f"the DuckDB extension '{name}' is not installed in this Python environment ({sys.prefix}): install "
            f"duckdb-extension-{name}=={duckdb.__version__} (the kit's locks pin it with duckdb)"
        ) from exc
    folder = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    found = sorted(folder.glob("*.duckdb_extension"))
    if not found:
        raise WarehouseError(
            f"duckdb-extension-{name} has no extension for duckdb {duckdb.__version__} under {folder}: its version "
            "must equal duckdb's (one pin in the kit's pyproject files)"
        )
    return found[0]


def install_extensions(conn: duckdb.DuckDBPyConnection, names: tuple[str, ...] = EXTENSIONS) -> None:
    """Install, from the wheels' files (never the network), the extensions the connection lacks."""
    installed = {
        row[0] for row in conn.execute("select extension_name from duckdb_extensions() where installed").fetchall()
    }
    for name in names:
        if EXTENSION_FILES.get(name, name) not in installed and name not in installed:
            conn.execute(f"install {literal(str(wheel_file(name)))}")


def load_extensions(conn: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> None:
    install_extensions(conn, names)
    for name in names:
        conn.execute(f"load {name}")
