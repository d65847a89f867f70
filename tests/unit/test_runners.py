"""The docker runner: job containers get their secrets from the worker at run time, never from DAG code."""

from __future__ import annotations

import pytest
from airflow.providers.docker.operators.docker import DockerOperator
from baton.config import ConfigError, load_config
from baton.runners import job_operator

SETTINGS = {
    "BATON_RUNNER": "docker",
    "BATON_JOBS_IMAGE": "baton/jobs:test",
    "BATON_DOCKER_NETWORK": "baton_net",
    "BATON_DOCKER_MOUNTS": "/srv/warehouse:/data/warehouse,/srv/marketing:/data/marketing:ro",
    "BATON_JOB_ENV": "MELTANO_DATABASE_URI,BATON_SHOP_DB_URL",
    "BATON_PROJECT": "baton-test",
}


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch):
    for key, value in SETTINGS.items():
        monkeypatch.setenv(key, value)
    config = load_config(environ=SETTINGS)
    return job_operator("extract_load", ["meltano", "run", "tap-shop", "target-raw-shop"], config, env={"X": "1"})


def test_docker_job_gets_the_named_variables_when_it_runs(operator, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}
    monkeypatch.setattr(DockerOperator, "execute", lambda self, context: seen.update(self._private_environment))
    monkeypatch.setenv("MELTANO_DATABASE_URI", "postgresql+psycopg://u:secret@postgres/meltano")
    monkeypatch.setenv("BATON_SHOP_DB_URL", "postgresql://shop:secret@source-db/shop")
    # Nothing secret is known when the DAG is parsed ...
    assert "secret" not in repr(operator.environment)
    operator.execute({})
    # ... and the container gets it when the task runs.
    assert seen == {
        "MELTANO_DATABASE_URI": "postgresql+psycopg://u:secret@postgres/meltano",
        "BATON_SHOP_DB_URL": "postgresql://shop:secret@source-db/shop",
    }
    assert operator.image == "baton/jobs:test"
    assert operator.network_mode == "baton_net"
    assert operator.labels == {"baton.project": "baton-test"}
    assert [(m["Source"], m["Target"], m["ReadOnly"]) for m in operator.mounts] == [
        ("/srv/warehouse", "/data/warehouse", False),
        ("/srv/marketing", "/data/marketing", True),
    ]


def test_a_variable_missing_on_the_worker_is_named(operator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DockerOperator, "execute", lambda self, context: None)
    monkeypatch.setenv("MELTANO_DATABASE_URI", "postgresql+psycopg://u:p@postgres/meltano")
    monkeypatch.delenv("BATON_SHOP_DB_URL", raising=False)
    with pytest.raises(ConfigError, match="BATON_SHOP_DB_URL"):
        operator.execute({})
