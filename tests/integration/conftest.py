"""Integration tier: real containers on a real Docker engine (testcontainers).

Where no engine answers, these tests skip with one reason; under CI (CI=true) that absence is a
failure, since CI always provisions an engine.
"""

from __future__ import annotations

import docker
import pytest

from tests.containers import configure_ryuk, docker_engine, ensure_image


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    client = docker_engine()
    configure_ryuk(client)
    return client


@pytest.fixture(scope="session")
def postgres_image(docker_client: docker.DockerClient) -> str:
    return ensure_image(docker_client, "BATON_POSTGRES_IMAGE")


@pytest.fixture(scope="session")
def python_image(docker_client: docker.DockerClient) -> str:
    return ensure_image(docker_client, "BATON_PYTHON_IMAGE")


@pytest.fixture(scope="session")
def shop_db(postgres_image: str):
    """The shop source database, created by its own init scripts (samples/shop/initdb)."""
    from testcontainers.community.postgres import PostgresContainer

    from tests.conftest import REPO

    pg = PostgresContainer(postgres_image, username="shop", password="shop-pw", dbname="shop")
    pg.with_volume_mapping(str(REPO / "samples" / "shop" / "initdb"), "/docker-entrypoint-initdb.d", "ro")
    with pg:
        yield pg


@pytest.fixture(scope="session")
def meltano_db(postgres_image: str):
    """A Postgres server for Meltano's system database (state); each test gets its own database."""
    from testcontainers.community.postgres import PostgresContainer

    pg = PostgresContainer(postgres_image, username="meltano", password="meltano-pw", dbname="meltano")
    with pg:
        yield pg


def pg_url(pg, dbname: str, driver: str = "") -> str:
    """The URL of a test Postgres from this machine (its published port)."""
    scheme = f"postgresql+{driver}" if driver else "postgresql"
    host, port = pg.get_container_host_ip(), pg.get_exposed_port(5432)
    return f"{scheme}://{pg.username}:{pg.password}@{host}:{port}/{dbname}"


def bridge_url(pg, dbname: str, driver: str = "") -> str:
    """The URL of a test Postgres from another container: its address in the engine's bridge network."""
    scheme = f"postgresql+{driver}" if driver else "postgresql"
    container = pg.get_wrapped_container()
    container.reload()
    return f"{scheme}://{pg.username}:{pg.password}@{container.attrs['NetworkSettings']['IPAddress']}:5432/{dbname}"
