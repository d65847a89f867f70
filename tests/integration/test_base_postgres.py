"""The Postgres image (offline drop-in or official) honours the official image's contract."""

from __future__ import annotations

import time
from pathlib import Path

import docker
import psycopg
import pytest
from testcontainers.community.postgres import PostgresContainer

from tests.conftest import unavailable

READY = "database system is ready to accept connections"


def _wait(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the server may still be starting
            last_error = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error})")


def _connect(pg: PostgresContainer) -> psycopg.Connection:
    return psycopg.connect(
        host=pg.get_container_host_ip(),
        port=pg.get_exposed_port(5432),
        user=pg.username,
        password=pg.password,
        dbname=pg.dbname,
    )


def _rows(pg: PostgresContainer) -> list[tuple]:
    with _connect(pg) as conn:
        return conn.execute("select id, note from greeting order by id").fetchall()


@pytest.fixture
def initdb_dir(tmp_path: Path) -> Path:
    d = tmp_path / "initdb"
    d.mkdir()
    (d / "01-schema.sql").write_text(
        "create table greeting (id int primary key, note text);\ninsert into greeting values (1, 'from sql');\n"
    )
    # Not executable: sourced by the entrypoint, with the POSTGRES_* variables at hand.
    (d / "02-seed.sh").write_text(
        'psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" '
        "-c \"insert into greeting values (2, 'from sh')\"\n"
    )
    d.chmod(0o755)
    for f in d.iterdir():
        f.chmod(0o644)
    return d


def test_postgres_contract(postgres_image: str, initdb_dir: Path) -> None:
    pg = PostgresContainer(postgres_image, username="shop_owner", password="s3cret pass", dbname="shop")
    pg.with_volume_mapping(str(initdb_dir), "/docker-entrypoint-initdb.d", "ro")
    with pg:
        container = pg.get_wrapped_container()

        # User, database and both init scripts took effect.
        with _connect(pg) as conn:
            assert conn.execute("select current_user, current_database()").fetchone() == ("shop_owner", "shop")
            conn.execute("insert into greeting values (3, 'written before restart')")
        assert _rows(pg) == [(1, "from sql"), (2, "from sh"), (3, "written before restart")]

        # Healthcheck (pg_isready) reports healthy; the server runs as postgres, not root.
        def healthy():
            container.reload()
            return container.attrs["State"].get("Health", {}).get("Status") == "healthy"

        _wait(healthy, "the container's healthcheck to report healthy", timeout=90)
        uid_line = container.exec_run(["grep", "^Uid:", "/proc/1/status"]).output.decode()
        assert uid_line.split()[1] != "0", f"PID 1 runs as root: {uid_line}"
        user = container.exec_run(["stat", "-c", "%U", "/var/lib/postgresql/data"]).output.decode().strip()
        assert user == "postgres"
        assert READY in container.logs().decode()

        # SIGTERM: a clean shutdown (exit 0, no crash recovery on the next start).
        container.kill(signal="SIGTERM")
        assert container.wait(timeout=60)["StatusCode"] == 0
        first_run_logs = container.logs().decode()
        assert "database system is shut down" in first_run_logs

        container.start()
        _wait(lambda: _rows(pg), "Postgres to accept connections after the restart")
        # Data survived; the init scripts did not run again (rows 1 and 2 would clash).
        assert _rows(pg) == [(1, "from sql"), (2, "from sh"), (3, "written before restart")]
        logs = container.logs().decode()
        assert "automatic recovery in progress" not in logs
        assert logs.count("PostgreSQL init process complete") == 1


def _run_to_exit(client: docker.DockerClient, image: str, **kwargs) -> tuple[int, str]:
    container = client.containers.run(image, detach=True, **kwargs)
    try:
        code = container.wait(timeout=120)["StatusCode"]
        return code, container.logs().decode()
    finally:
        container.remove(force=True, v=True)


def test_missing_password_is_refused_with_its_name(docker_client, postgres_image: str) -> None:
    code, logs = _run_to_exit(docker_client, postgres_image, environment={"POSTGRES_DB": "shop"})
    assert code != 0
    assert "POSTGRES_PASSWORD" in logs


def test_failing_init_script_is_named_and_data_is_kept(
    docker_client: docker.DockerClient, postgres_image: str, tmp_path: Path
) -> None:
    if "baton-local/" not in postgres_image:
        unavailable("the init-failure guard is a feature of the offline image, not of the official one")
    initdb = tmp_path / "initdb"
    initdb.mkdir()
    (initdb / "01-ok.sql").write_text("create table kept (id int); insert into kept values (42);\n")
    (initdb / "02-broken.sql").write_text("insert into no_such_table values (1);\n")
    initdb.chmod(0o755)
    for f in initdb.iterdir():
        f.chmod(0o644)
    volume = docker_client.volumes.create()
    try:
        run = dict(
            environment={"POSTGRES_PASSWORD": "pw"},
            volumes={
                str(initdb): {"bind": "/docker-entrypoint-initdb.d", "mode": "ro"},
                volume.name: {"bind": "/var/lib/postgresql/data", "mode": "rw"},
            },
        )
        code, logs = _run_to_exit(docker_client, postgres_image, **run)
        assert code != 0
        assert "02-broken.sql" in logs and "no_such_table" in logs

        # The next start refuses to serve a half-initialised database and names what failed.
        code, logs = _run_to_exit(docker_client, postgres_image, **run)
        assert code != 0
        assert "02-broken.sql" in logs and "initialisation" in logs

        # Nothing was deleted: the first script's table is still in the volume.
        out = docker_client.containers.run(
            postgres_image,
            ["bash", "-c", "ls /var/lib/postgresql/data/PG_VERSION && cat /var/lib/postgresql/data/PG_VERSION"],
            volumes={volume.name: {"bind": "/var/lib/postgresql/data", "mode": "ro"}},
            remove=True,
        ).decode()
        assert out.strip().endswith("15")
    finally:
        volume.remove(force=True)
