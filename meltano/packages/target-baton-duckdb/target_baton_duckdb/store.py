"""The DuckDB side: one connection per run, tables and their evolution, staged batches merged.

Every batch (a drained set of RECORD messages, or one BATCH message's files) goes the same way:

1. staged into a temp table `_baton_stage` with DuckDB's readers and explicit columns: nothing is
   sniffed. Number columns are staged as text (the checks below need the text as sent); from CSV
   files, columns whose reader is exact (timestamps, dates, booleans, uuid, JSON, text) are read
   with their declared type at once; from Parquet files, every column whose file type the declared
   type holds exactly, floats included (checked as numbers). If a typed read of CSV fails, the
   batch is staged as text again and the failing value is named (step 3);
2. checked in one scan: NaN/Infinity in number columns, fractions in integer columns, more decimals
   than a DECIMAL's scale; a hit names the stream, the column, the key and the value;
3. in ONE transaction, cast to the declared types (a value that does not cast fails, named) and
   written, then the stream's catalogue row touched. Committed before the target writes the STATE
   that covers it. How a batch is written depends on the stream:

   - with key properties: deduplicated by key (the last row wins; a batch whose keys are all
     distinct, as a table's primary key makes them, skips that step). Into an empty table it is a
     plain insert. Otherwise rows whose key is in the table with different values are deleted, and
     the batch's rows that are not in the table as they are (new keys, changed rows) inserted:
     an unchanged row re-read at an inclusive bookmark is not rewritten;
   - without key properties, INCREMENTAL (a replication key): the run's first batch deletes the
     re-read window, the rows whose replication key is >= the bookmark the run started from (every
     row when it started without one), in the transaction that inserts it. The extractor re-reads
     exactly that window, so the rows at the bookmark are replaced, not appended, and exact
     duplicate rows of the source stay as many as they are. A run killed after some batches
     resumes from the last STATE written, whose bookmark only covers committed rows: its window
     again holds only rows that run re-reads;
   - without key properties, FULL_TABLE (no replication key): the batches of the run go to a temp
     table of the run, and at the end of the run, before the final STATE is written, ONE
     transaction replaces the table's rows with it (`replace_table`). Readers see the old table or
     the new one, never a part; a run killed before the end leaves the old table whole. The end
     of the run is the end of the loader's input: a Singer stream does not say that a FULL_TABLE
     read is complete, and an extractor that fails mid-read also ends the input (Meltano then
     fails the run, and the next run replaces the table again).
"""

from __future__ import annotations

import logging

import duckdb

from target_baton_duckdb import warehouse
from target_baton_duckdb.merge import Merging
from target_baton_duckdb.schema_evolution import CATALOGUE_DDL, SchemaEvolution
from target_baton_duckdb.staging import Staging
from target_baton_duckdb.tables import LoaderError


class Store(SchemaEvolution, Staging, Merging):
    """The run's one DuckDB connection (DuckDB allows one writing process per file): tables and their
    evolution (schema_evolution.py), staging (staging.py), checks (checks.py) and merges (merge.py)."""

    def __init__(self, path: str, logger: logging.Logger):
        self.path = path
        self.logger = logger
        try:
            # The file at `path`, or (BATON_WAREHOUSE=lake) the DuckLake named by its stem (warehouse.py).
            self.conn = warehouse.connect_path(path)
        except warehouse.WarehouseError as exc:
            raise LoaderError(str(exc)) from exc
        except duckdb.IOException as exc:
            raise LoaderError(
                f"cannot open the DuckDB file {path} for writing: {exc}. One process writes a DuckDB file at a "
                "time: wait for the other load (or dbt run) holding it, then run again."
            ) from exc
        self.conn.execute("set TimeZone = 'UTC'")
        self.conn.execute(CATALOGUE_DDL)

    def close(self) -> None:
        self.conn.close()
