"""The connection parameters of a Postgres URL, for the image's tools that connect on their own.

Airflow's settings hold SQLAlchemy URLs (postgresql+psycopg2://user:pw@host:port/db?sslmode=...);
psycopg and psycopg2 take libpq parameters. baton-airflow-init connects with them to create the
databases and readers, and the scheduler to listen for its wake-ups.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit


class UrlError(ValueError):
    pass


def libpq_params(url: str, name: str) -> dict[str, str]:
    """host, port, user, password and dbname of `url`, plus its query (sslmode=require and the
    like). `name` says in an error which setting holds the URL."""
    if not url:
        raise UrlError(f"{name} is not set")
    parts_of = urlsplit(url)
    if not parts_of.scheme.startswith("postgres"):
        raise UrlError(f"{name} is not a Postgres URL (scheme {parts_of.scheme!r})")
    params = {
        "host": parts_of.hostname or "",
        "port": str(parts_of.port or 5432),
        "user": unquote(parts_of.username or ""),
        "password": unquote(parts_of.password or ""),
        "dbname": unquote(parts_of.path.lstrip("/")),
    }
    missing = [key for key in ("host", "user", "dbname") if not params[key]]
    if missing:
        raise UrlError(f"{name} names no {', '.join(missing)}")
    params.update(parse_qsl(parts_of.query))
    return params
