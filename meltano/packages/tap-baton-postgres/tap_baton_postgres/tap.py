"""tap-baton-postgres: meltanolabs-tap-postgres with decimal annotations and a COPY export path."""

from __future__ import annotations

import copy
import tempfile
import uuid
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from singer_sdk import typing as th
from tap_postgres.connection_parameters import ConnectionParameters
from tap_postgres.tap import TapPostgres

from tap_baton_postgres.schema import BatonPostgresConnector
from tap_baton_postgres.streams import BatonPostgresLogBasedStream, BatonPostgresStream

if TYPE_CHECKING:
    from collections.abc import Sequence

    from singer_sdk import Stream


def _config_schema() -> dict:
    schema = copy.deepcopy(TapPostgres.config_jsonschema)
    extra = th.PropertiesList(
        th.Property(
            "export_mode",
            th.StringType(allowed_values=["records", "copy"]),
            default="records",
            description=(
                "`records`: Singer RECORD messages, as meltanolabs-tap-postgres writes them. `copy`: each "
                "INCREMENTAL or FULL_TABLE stream is exported by COPY into Parquet or CSV files announced "
                "by Singer BATCH messages (streams that cannot take that path use records, with a warning)."
            ),
        ),
        th.Property(
            "copy_format",
            th.StringType(allowed_values=["parquet", "csv"]),
            default="parquet",
            description=(
                "`export_mode: copy`: the files' format. `parquet`: DuckDB's Postgres scanner reads the table "
                "by binary COPY over parallel connections on one snapshot into typed Parquet files; a stream "
                "with a column type Parquet does not carry exactly, or with custom_where_clauses, is exported "
                "as CSV instead (said in the log). `csv`: Postgres COPY ... (FORMAT csv) for every stream."
            ),
        ),
        th.Property(
            "parquet_min_rows",
            th.IntegerType,
            default=100_000,
            description=(
                "`copy_format: parquet`: a stream whose export the planner expects to hold fewer rows (an "
                "incremental window of a few thousand rows) is exported as CSV, which starts faster."
            ),
        ),
        th.Property(
            "batch_dir",
            th.StringType,
            description=(
                "Folder for the CSV files of `export_mode: copy` (created if missing). Default: a new "
                "temporary folder per run. The extractor never deletes these files: the loader does."
            ),
        ),
        th.Property(
            "batch_size_rows",
            th.IntegerType,
            default=250_000,
            description=(
                "`export_mode: copy`: at most this many rows per CSV file, about this many per Parquet file "
                "(one BATCH message each)."
            ),
        ),
    ).to_dict()
    schema["properties"].update(extra["properties"])
    return schema


class TapBatonPostgres(TapPostgres):
    """Postgres extractor: the stock tap's streams and settings, plus `export_mode`."""

    name = "tap-baton-postgres"
    package_name = "tap-baton-postgres"
    config_jsonschema = _config_schema()
    DEFAULT_BATCH_SIZE_ROWS = 250_000
    DEFAULT_PARQUET_MIN_ROWS = 100_000

    @cached_property
    def connector(self) -> BatonPostgresConnector:  # type: ignore[override]
        """The stock connector (SSH tunnel included) with the decimal-annotating type mapping."""
        self.connection_parameters = ConnectionParameters.from_tap_config(self.config)
        ssh_config = self.config.get("ssh_tunnel", {})
        if ssh_config.get("enable", False):
            self.connection_parameters = self.ssh_tunnel_connect(
                ssh_config=ssh_config,
                connection_parameters=self.connection_parameters,
            )
        return BatonPostgresConnector.from_connection_parameters(
            config=self.config,
            connection_parameters=self.connection_parameters,
        )

    @cached_property
    def run_id(self) -> str:
        """Part of every CSV file name of this run, so runs never overwrite each other's files."""
        return uuid.uuid4().hex[:12]

    @cached_property
    def batch_directory(self) -> Path:
        if configured := self.config.get("batch_dir"):
            path = Path(configured)
            path.mkdir(parents=True, exist_ok=True)
            return path.resolve()
        return Path(tempfile.mkdtemp(prefix="tap-baton-postgres-")).resolve()

    def discover_streams(self) -> Sequence[Stream]:
        connector = self.connector
        streams: list[Stream] = []
        for catalog_entry in self.catalog_dict["streams"]:
            if catalog_entry["replication_method"] == "LOG_BASED":
                streams.append(
                    BatonPostgresLogBasedStream(
                        self,
                        catalog_entry,
                        connection_parameters=self.connection_parameters,
                        connector=connector,
                    )
                )
            else:
                streams.append(BatonPostgresStream(self, catalog_entry, connector=connector))
        return streams


if __name__ == "__main__":
    TapBatonPostgres.cli()
