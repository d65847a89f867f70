"""A source's tables as the scaffold writes them, and the names dbt gives them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Words the staging SQL quotes where a column is named like one.
_KEYWORDS = (
    "all and any array as asc between by case cast check column create default desc distinct else end "
    "except false from group having in intersect into is join limit not null offset on or order primary "
    "references select table then to true union user using when where window with"
)
SQL_KEYWORDS = frozenset(_KEYWORDS.split())


@dataclass
class Table:
    """One table as discovery found it (or as ENTITY and KEY describe it, without discovery)."""

    name: str
    columns: list[str] = field(default_factory=list)  # raw column names, source order; [] = unknown
    keys: list[str] = field(default_factory=list)
    replication_key: str | None = None
    discovered: bool = False

    @property
    def raw(self) -> str:
        """Its name in raw_<source>.duckdb, in the dbt source and in its staging model's name."""
        return raw_column(self.name)

    @property
    def id_column(self) -> str:
        return f"{singular(self.raw)}_id"


def singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def raw_column(name: str) -> str:
    """The column name the loader gives a source column (target-baton-duckdb's safe_identifier)."""
    text = re.sub(r"[^a-z0-9_]", "_", name.lower())
    return text if text and not text[0].isdigit() else f"_{text}"


def sql_name(column: str) -> str:
    """A raw column as the staging SQL names it: quoted where it is an SQL keyword."""
    return f'"{column}"' if column in SQL_KEYWORDS else column
