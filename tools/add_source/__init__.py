"""Scaffold a new source (its Meltano file, its dbt sources file, staging stubs), or remove one.

    python -m tools.add_source NAME postgres|files [--entity ENTITY] [--key KEY] [--schema SCHEMA] [--no-discover]
    python -m tools.add_source remove NAME [--force]

`make add-source NAME=crm KIND=postgres` runs it. A source is one file (meltano/sources/NAME.meltano.yml)
plus its dbt staging folder; the DAGs, assets, compose, the docker runner and the ECS task all
follow from that file's `baton:` declaration. Existing files are never overwritten.

A postgres source is first discovered: the extractor's own discovery (`tap-baton-postgres
--discover`) runs in a container of the jobs image with the source's secret BATON_<NAME>_DB_URL
from the env file (compose/.env). From the tables it finds in the schema (or only ENTITY), the
scaffold writes the select list, each table's key properties (its primary key; none when it has
none) and replication: INCREMENTAL by an updated_at-like column where the table has one, else
FULL_TABLE; the staging stubs select the tables' real columns. When the source cannot be reached,
it says so and writes the stub from ENTITY and KEY alone.

`remove NAME` deletes what the scaffold wrote (the Meltano file and the staging folder), refusing
an unknown name and, without --force, a source that models outside its staging folder still read.

model       a source's tables and the names dbt gives them
discovery   the extractor's discovery and the tables, keys and replication taken from its catalog
templates   the text of each file, per kind of source
scaffold    every file of a new source (plan) and what to do next
remove      what the scaffold wrote, taken out again
cli         the command line
"""

from .discovery import Unreachable, replication_key, tables_from_catalog
from .model import Table
from .scaffold import next_steps, plan

__all__ = ["Table", "Unreachable", "next_steps", "plan", "replication_key", "tables_from_catalog"]
