"""dbt-duckdb plugin: dbt connects to the warehouse the way the loader does (warehouse.py).

dbt/profiles.yml loads it in both targets (`plugins: [{module: target_baton_duckdb.dbt_warehouse}]`,
with the package folder in `module_paths`). It

- sets the connection's DuckDB settings: no extension autoinstall from the network, the kit's
  extension folder, BATON_DUCKDB_MEMORY_LIMIT / _THREADS / _TEMP_DIR where set (else DuckDB's defaults);
- in `files` mode, refuses warehouse files written by a newer DuckDB with what to do, and waits for
  the writer's turn of analytics.duckdb before dbt opens it (warehouse.take_writer_turn): builds of
  several domains started together parse and compile side by side, then write one after the other;
- in `lake` mode, loads the lake's extensions, gives DuckDB the S3 credentials, defines a secret per
  lake of the catalog (macros/attach_raw_sources.sql attaches the raw lakes through them) and attaches
  `analytics` (created at first use), before dbt-duckdb's own ATTACH IF NOT EXISTS of the profile.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from dbt.adapters.duckdb.plugins import BasePlugin

from target_baton_duckdb import warehouse


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.settings = warehouse.Settings.from_env()
        self.turn: IO[str] | None = None  # the writer's turn of the file, held until the process ends
        if self.settings.mode == "files":
            warehouse.check_files(sorted(Path(self.settings.files_dir).glob("*.duckdb")))

    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        config.update(warehouse.duckdb_config(self.settings))
        if self.settings.mode == "files" and self.turn is None and creds.path not in ("", ":memory:"):
            self.turn = warehouse.take_writer_turn(Path(creds.path))

    def configure_connection(self, conn: Any) -> None:
        if self.settings.mode != "lake":
            return
        warehouse.prepare_lake(conn, self.settings)
        warehouse.define_lakes(conn, self.settings, ["analytics"])
        warehouse.attach_lake(conn, self.settings, "analytics")
