#!/usr/bin/env python
"""baton-airflow-init: prepare Airflow's metadata database, the one way, in the sandbox and on ECS.

compose's `airflow-init` service and the ECS api-server task's `init` container both run it:

1. databases, only when BATON_INIT_DATABASES names settings holding database URLs (ECS:
   AIRFLOW__DATABASE__SQL_ALCHEMY_CONN,MELTANO_DATABASE_URI): as the server's admin user
   (BATON_DB_ADMIN_USER, BATON_DB_ADMIN_PASSWORD: on ECS the RDS master secret) it creates the role
   each URL names, or sets its password to the URL's, and the database, owned by that role. The
   sandbox leaves it unset: its Postgres init script creates the databases.
   BATON_INIT_READERS names settings holding URLs of read-only roles (ECS, lake mode:
   BATON_LAKE_READER_URL): each role gets LOGIN with the URL's password, CONNECT on the URL's
   database and SELECT on the tables of its schema public, now and as the database's owner
   creates them (the lake's catalog, for readers outside the stack).
2. `airflow db migrate`.
   Then the triggers that wake the scheduler when a DAG run is created or a task changes state
   (baton-airflow-scheduler, services.py).
3. the pool BATON_WAREHOUSE_POOL with two slots: dbt runs write analytics.duckdb, and DuckDB allows
   one writer per file. The dbt job waits for the writer's turn of the file after it has parsed and
   compiled (target_baton_duckdb.warehouse.take_writer_turn), so one build writes while the next
   prepares. Deferred tasks keep their slot (on ECS a dbt task waits deferred while its job runs).
4. the FAB auth manager's roles (Admin, Op, User, Viewer: webserver_config.py) and two accounts:
   the first admin BATON_AIRFLOW_USER with the password BATON_AIRFLOW_PASSWORD, and the automation
   account BATON_AUTOMATION_USER (role Op: batonctl, `make run`) with BATON_AUTOMATION_PASSWORD
   when that is set. An existing account gets the password it is given: set a new value and run
   init again to rotate it. Passwords are never printed.

Only step 4 reads the admin's password. Idempotent, and safe when several start together (two
api-server tasks): each step runs under a Postgres advisory lock. Prints what it did.

A run that finishes records a fingerprint of what it was given in the table `baton_init` of
Airflow's database: the Airflow and FAB versions, this file, users.py, services.py and webserver_config.py,
the pool, the database and reader URLs, the two accounts and their passwords (as one SHA-256
digest; nothing readable). The next run with the same fingerprint, whose two accounts still
exist and whose pool is as set, does nothing: a restarted stack skips the migration check and
the roles' sync (about 7 s). A new image, setting or password makes the next run a full one.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from baton_contract.waiting import WaitTimeout, poll
from baton_pgurl import UrlError, libpq_params
from baton_users import UserError
from psycopg import sql

POOL_SLOTS = 2
POOL_DESCRIPTION = "dbt runs on analytics.duckdb: one writes (DuckDB: one writer per file), the next prepares"
# Advisory lock keys: any constants every init process shares ("baton-db", "baton-af" in hex).
LOCK_DATABASES = 0x6261746F6E2D6462
LOCK_AIRFLOW = 0x6261746F6E2D6166


class InitError(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"baton-airflow-init: {message}", flush=True)


def setting(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise InitError(f"{name} is not set")
    return value


def url_parts(setting_name: str) -> dict[str, str]:
    """libpq parameters of the Postgres URL in a setting."""
    try:
        return libpq_params(os.environ.get(setting_name, ""), setting_name)
    except UrlError as exc:
        raise InitError(str(exc)) from None


def connect(params: dict[str, str], wait: float) -> psycopg.Connection:
    """A connection, tried again every 2 s while the server starts (up to `wait` seconds)."""
    refused: list[psycopg.OperationalError] = []

    def attempt() -> psycopg.Connection | None:
        try:
            return psycopg.connect(**params, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            refused[:] = [exc]
            return None

    try:
        return poll(attempt, timeout=wait, every=2, what="the database")
    except WaitTimeout:
        where = f"{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"
        raise InitError(f"cannot connect to {where}: {str(refused[-1]).strip()}") from refused[-1]


def ensure_database(conn: psycopg.Connection, setting_name: str) -> None:
    parts = url_parts(setting_name)
    role, password, database = parts["user"], parts["password"], parts["dbname"]
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    verb = "alter" if exists else "create"
    # The URL's password wins: a regenerated secret (secret_generation) re-passwords the role.
    conn.execute(sql.SQL(verb + " role {} login password {}").format(sql.Identifier(role), sql.Literal(password)))
    # RDS: the master user may only create a database owned by a role it is a member of.
    conn.execute(sql.SQL("grant {} to current_user").format(sql.Identifier(role)))
    created = not conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
    if created:
        conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(database), sql.Identifier(role)))
    say(
        f"{setting_name}: role {role} {'created' if not exists else 'password set'}, "
        f"database {database} {'created' if created else 'exists'}"
    )


def ensure_reader(conn: psycopg.Connection, admin: dict[str, str], setting_name: str, wait: float) -> None:
    parts = url_parts(setting_name)
    role, password, database = parts["user"], parts["password"], parts["dbname"]
    found = conn.execute("select pg_get_userbyid(datdba) from pg_database where datname = %s", (database,)).fetchone()
    if found is None:
        raise InitError(f"{setting_name}: database {database} does not exist; name its owner in BATON_INIT_DATABASES")
    owner = found[0]
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    verb = "alter" if exists else "create"
    conn.execute(sql.SQL(verb + " role {} login password {}").format(sql.Identifier(role), sql.Literal(password)))
    conn.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(database), sql.Identifier(role)))
    with connect({**admin, "dbname": database}, wait) as db:
        reader, owner_id = sql.Identifier(role), sql.Identifier(owner)
        db.execute(sql.SQL("grant usage on schema public to {}").format(reader))
        db.execute(sql.SQL("grant select on all tables in schema public to {}").format(reader))
        db.execute(
            sql.SQL("alter default privileges for role {} in schema public grant select on tables to {}").format(
                owner_id, reader
            )
        )
    say(f"{setting_name}: read-only role {role} {'created' if not exists else 'password set'} on database {database}")


def databases(wait: float) -> None:
    names = [n.strip() for n in os.environ.get("BATON_INIT_DATABASES", "").split(",") if n.strip()]
    if not names:
        say("databases: not managed here (BATON_INIT_DATABASES is empty: the server's init scripts create them)")
        return
    first = url_parts(names[0])
    admin = {
        **{k: v for k, v in first.items() if k not in ("user", "password", "dbname")},
        "user": setting("BATON_DB_ADMIN_USER"),
        "password": setting("BATON_DB_ADMIN_PASSWORD"),
        "dbname": os.environ.get("BATON_DB_ADMIN_DATABASE") or "postgres",
    }
    for name in names[1:]:
        other = url_parts(name)
        if (other["host"], other["port"]) != (first["host"], first["port"]):
            raise InitError(f"{name} names another server than {names[0]}: one admin user manages one server")
    readers = [n.strip() for n in os.environ.get("BATON_INIT_READERS", "").split(",") if n.strip()]
    with connect(admin, wait) as conn:
        conn.execute("select pg_advisory_lock(%s)", (LOCK_DATABASES,))
        for name in names:
            ensure_database(conn, name)
        for name in readers:
            ensure_reader(conn, admin, name, wait)


def migrate_and_pool(pool: str, wait: float) -> None:
    airflow_db = url_parts("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    with connect(airflow_db, wait) as conn:
        # Held until the connection closes: a second init waits, then finds the work done.
        conn.execute("select pg_advisory_lock(%s)", (LOCK_AIRFLOW,))
        say("airflow db migrate")
        subprocess.run(["airflow", "db", "migrate"], check=True)
        from baton_services import WAKE_TRIGGERS, install_wake_triggers

        install_wake_triggers(conn)
        say(f"scheduler wake-up triggers: {', '.join(WAKE_TRIGGERS)}")

        from airflow.models.pool import Pool
        from airflow.utils.session import create_session

        with create_session() as session:
            current = Pool.get_pool(pool, session=session)
            wanted = (POOL_SLOTS, POOL_DESCRIPTION, True)
            if current is not None and (current.slots, current.description, current.include_deferred) == wanted:
                say(f"pool {pool}: unchanged ({POOL_SLOTS} slots)")
                return
            Pool.create_or_update_pool(pool, POOL_SLOTS, POOL_DESCRIPTION, include_deferred=True, session=session)
        done = "created" if current is None else "updated"
        say(f"pool {pool}: {done} ({POOL_SLOTS} slots, deferred tasks keep theirs)")


def wanted_accounts() -> list[tuple[str, str, str]]:
    """(user, role, password) of the first admin and, when both are set, the automation account."""
    password = os.environ.get("BATON_AIRFLOW_PASSWORD", "")
    if not password:
        raise InitError(
            "BATON_AIRFLOW_PASSWORD is not set: the first admin's password (the sandbox: compose/.env, "
            "written by `make env-file`; ECS: the admin password's secret in Secrets Manager)"
        )
    wanted = [(setting("BATON_AIRFLOW_USER"), "Admin", password)]
    automation = os.environ.get("BATON_AUTOMATION_USER", "")
    if automation and os.environ.get("BATON_AUTOMATION_PASSWORD"):
        wanted.append((automation, "Op", os.environ["BATON_AUTOMATION_PASSWORD"]))
    return wanted


def accounts(wait: float) -> None:
    """Roles and the kit's two accounts, under the same lock as the migration."""
    wanted = wanted_accounts()
    if len(wanted) == 1:
        say("automation account: not managed here (BATON_AUTOMATION_USER or BATON_AUTOMATION_PASSWORD is empty)")
    with connect(url_parts("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"), wait) as conn:
        conn.execute("select pg_advisory_lock(%s)", (LOCK_AIRFLOW,))
        from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
        from baton_users import ensure_user

        # Building FAB's app syncs the roles and their permissions: here, and only here (the image
        # turns [fab] update_fab_perms off for the api-server, whose start it would slow down).
        os.environ["AIRFLOW__FAB__UPDATE_FAB_PERMS"] = "True"
        with get_application_builder() as appbuilder:
            say("roles: " + ", ".join(sorted(r.name for r in appbuilder.sm.get_all_roles())))
            for name, role, password in wanted:
                say(ensure_user(appbuilder.sm, name, role, password))


def fingerprint(pool: str) -> str:
    """One digest of everything a run acts on (see the module doc)."""
    digest = hashlib.sha256()
    for package in ("apache-airflow", "apache-airflow-providers-fab"):
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{package}=={version}\n".encode())
    files: list[Path | None] = [Path(__file__)]
    for module in ("baton_users", "baton_services", "baton_pgurl"):
        spec = importlib.util.find_spec(module)
        files.append(Path(spec.origin) if spec and spec.origin else None)
    files.append(Path(os.environ["AIRFLOW__FAB__CONFIG_FILE"]) if os.environ.get("AIRFLOW__FAB__CONFIG_FILE") else None)
    for path in files:
        digest.update(path.read_bytes() if path and path.is_file() else b"-")
    names = ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "BATON_AIRFLOW_USER", "BATON_AIRFLOW_PASSWORD"]
    names += ["BATON_AUTOMATION_USER", "BATON_AUTOMATION_PASSWORD", "BATON_INIT_DATABASES", "BATON_INIT_READERS"]
    for group in ("BATON_INIT_DATABASES", "BATON_INIT_READERS"):
        names += [n.strip() for n in os.environ.get(group, "").split(",") if n.strip()]
    for name in names:
        digest.update(f"{name}={os.environ.get(name, '')}\n".encode())
    digest.update(f"pool={pool},{POOL_SLOTS},{POOL_DESCRIPTION}\n".encode())
    return digest.hexdigest()


def unchanged(print_: str) -> bool:
    """The last run had this fingerprint, and what it made is still there: the two accounts and the
    pool. One attempt to connect: a database that is not there yet means a full run."""
    try:
        with psycopg.connect(**url_parts("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"), connect_timeout=10) as conn:
            (last,) = conn.execute("select fingerprint from baton_init where id = 1").fetchone() or ("",)
            accounts = [name for name, _, _ in wanted_accounts()]
            (found,) = conn.execute("select count(*) from ab_user where username = any(%s)", (accounts,)).fetchone()
            pool = conn.execute(
                "select slots, include_deferred from slot_pool where pool = %s", (setting("BATON_WAREHOUSE_POOL"),)
            ).fetchone()
            triggers = {
                name for (name,) in conn.execute("select tgname from pg_trigger where tgname like 'baton_wake_on_%'")
            }
    except psycopg.Error:
        return False
    from baton_services import WAKE_TRIGGERS  # without Airflow's scheduler (see that module)

    return last == print_ and found == len(accounts) and pool == (POOL_SLOTS, True) and triggers == set(WAKE_TRIGGERS)


def record(print_: str, wait: float) -> None:
    with connect(url_parts("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"), wait) as conn:
        conn.execute(
            "create table if not exists baton_init (id int primary key, fingerprint text not null, at timestamptz)"
        )
        conn.execute(
            "insert into baton_init values (1, %s, now()) on conflict (id) do update "
            "set fingerprint = excluded.fingerprint, at = excluded.at",
            (print_,),
        )


def main() -> int:
    wait = float(os.environ.get("BATON_INIT_WAIT_SECONDS") or 60)
    try:
        pool = setting("BATON_WAREHOUSE_POOL")
        print_ = fingerprint(pool)
        if unchanged(print_):
            say("nothing changed since the last run (image, settings, accounts, pool): done")
            return 0
        databases(wait)
        migrate_and_pool(pool, wait)
        accounts(wait)
        record(print_, wait)
    except (InitError, UserError) as exc:
        print(f"baton-airflow-init: error: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"baton-airflow-init: error: `airflow db migrate` exited with {exc.returncode}", file=sys.stderr)
        return 1
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
