"""SQL quoting for the statements the kit builds (standard library only: every environment loads it)."""

from __future__ import annotations


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def files(paths: str | list[str]) -> str:
    """One path, or a list of paths read in order, as a SQL literal."""
    if isinstance(paths, str):
        return literal(paths)
    return "[" + ", ".join(literal(p) for p in paths) + "]"
