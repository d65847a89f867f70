"""The command line: `make add-source` and `make remove-source` run it (python -m tools.add_source)."""

from __future__ import annotations

import argparse
import re
import sys

from . import __doc__ as DOC
from .discovery import Unreachable, discover, tables_from_catalog
from .model import REPO, Table
from .remove import remove
from .scaffold import next_steps, plan

NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
RESERVED = {"remove"}


def main(argv: list[str]) -> int:
    if argv[:1] == ["remove"]:
        parser = argparse.ArgumentParser(prog="make remove-source", description="Remove a source the scaffold wrote")
        parser.add_argument("name")
        parser.add_argument("--force", action="store_true", help="remove it even if models still read it")
        args = parser.parse_args(argv[1:])
        return remove(args.name, args.force)
    parser = argparse.ArgumentParser(prog="make add-source", description=DOC.splitlines()[0])
    parser.add_argument("name", help="the source's name: lower case letters, digits, _")
    parser.add_argument("kind", choices=["postgres", "files"])
    parser.add_argument("--entity", help="the table or file entity (postgres: default every table of the schema)")
    parser.add_argument("--key", help="its primary key column when it cannot be discovered (default: id)")
    parser.add_argument("--schema", default="public", help="postgres: the schema to extract (default: public)")
    parser.add_argument("--no-discover", action="store_true", help="postgres: write the stub without discovery")
    args = parser.parse_args(argv)
    if not NAME.match(args.name) or args.name in RESERVED:
        parser.error(
            f"NAME={args.name!r}: use 2-31 lower case letters, digits or _, starting with a letter (not remove)"
        )
    if args.entity and not NAME.match(args.entity):
        parser.error(f"--entity {args.entity!r}: use lower case letters, digits or _, starting with a letter")
    written = (
        REPO / "meltano" / "sources" / f"{args.name}.meltano.yml",
        REPO / "dbt" / "models" / "staging" / args.name,
    )
    existing = [str(p.relative_to(REPO)) for p in written if p.exists()]
    if existing:
        print(f"error: source '{args.name}' exists already ({', '.join(existing)}); nothing written", file=sys.stderr)
        return 1
    entity, key = args.entity or args.name, args.key or "id"
    tables = None
    if args.kind == "postgres" and not args.no_discover:
        print(
            f"discovering schema {args.schema} of source '{args.name}' "
            "(tap-baton-postgres --discover in the jobs image)"
        )
        try:
            tables = tables_from_catalog(discover(args.name, args.schema), args.schema, args.entity)
        except Unreachable as exc:
            print(
                f"could not reach source '{args.name}': {exc}\nwriting the stub without discovery ({entity}, key {key})"
            )
        else:
            if not tables:
                what = f"table {args.schema}.{args.entity}" if args.entity else f"table in schema {args.schema}"
                print(f"error: discovery found no {what} in source '{args.name}'; nothing written", file=sys.stderr)
                return 1
            for t in tables:
                how = f"INCREMENTAL by {t.replication_key}" if t.replication_key else "FULL_TABLE"
                print(f"  {args.schema}.{t.name}: key [{', '.join(t.keys)}], {how}, {len(t.columns)} columns")
    files = plan(args.name, args.kind, entity, key, args.schema, tables=tables)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    print(next_steps(args.name, args.kind, tables or [Table(name=entity)], discovered=bool(tables)))
    return 0
