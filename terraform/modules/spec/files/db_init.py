"""Prepares the metadata databases, then Airflow's schema. Runs as the api-server task's init container.

Connects as the RDS master user (BATON_DB_MASTER_USERNAME / BATON_DB_MASTER_PASSWORD), creates (or
re-passwords) the owner role and database named in each application URL (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN,
MELTANO_DATABASE_URI), then runs `airflow db migrate` and creates the warehouse pool. Idempotent:
every api-server start runs it again.
"""

import os
import subprocess
import sys
from urllib.parse import unquote, urlsplit

import psycopg2
from psycopg2 import sql

URL_SETTINGS = ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "MELTANO_DATABASE_URI")


def admin() -> psycopg2.extensions.connection:
    return psycopg2.connect(
        host=os.environ["BATON_DB_HOST"],
        port=int(os.environ.get("BATON_DB_PORT", "5432")),
        user=os.environ["BATON_DB_MASTER_USERNAME"],
        password=os.environ["BATON_DB_MASTER_PASSWORD"],
        dbname="postgres",
        sslmode="require",
        connect_timeout=10,
    )


def ensure(conn: psycopg2.extensions.connection, setting: str) -> None:
    url = urlsplit(os.environ[setting])
    role, password, database = unquote(url.username), unquote(url.password), url.path.lstrip("/")
    with conn.cursor() as cur:
        cur.execute("select 1 from pg_roles where rolname = %s", (role,))
        verb = "alter" if cur.fetchone() else "create"
        cur.execute(sql.SQL(verb + " role {} login password %s").format(sql.Identifier(role)), (password,))
        # RDS: the master user may only create a database owned by a role it is a member of.
        cur.execute(sql.SQL("grant {} to current_user").format(sql.Identifier(role)))
        cur.execute("select 1 from pg_database where datname = %s", (database,))
        if not cur.fetchone():
            cur.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(database), sql.Identifier(role)))
    print(f"{setting}: role {role} and database {database} ready", flush=True)


def main() -> int:
    conn = admin()
    conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
    try:
        for setting in URL_SETTINGS:
            ensure(conn, setting)
    finally:
        conn.close()
    for command in (
        ["airflow", "db", "migrate"],
        ["airflow", "pools", "set", "baton_warehouse", "1", "DuckDB allows one writer per file"],
    ):
        print("running", " ".join(command), flush=True)
        subprocess.run(command, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
