"""Container plumbing shared by the integration tests and the benchmarks."""

from __future__ import annotations

import docker
from docker.errors import DockerException, ImageNotFound
from testcontainers.core.config import testcontainers_config


def docker_engine() -> docker.DockerClient:
    """A client of the Docker engine; the test skips (fails under CI) when none answers."""
    from tests.conftest import unavailable

    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        unavailable(f"no Docker engine answers ({exc.__class__.__name__}: {exc}); start dockerd or Docker Desktop")
    return client


def configure_ryuk(client: docker.DockerClient) -> None:
    """Disable Ryuk where its image can be neither found nor pulled.

    Ryuk, testcontainers' reaper of leftover containers, is itself an image from Docker Hub. Where
    it is neither loaded nor pullable (no registry), testcontainers would fail every container
    start trying to launch it; the callers remove their own containers instead.
    """
    if testcontainers_config.ryuk_disabled:
        return
    image = testcontainers_config.ryuk_image
    try:
        client.images.get(image)
    except ImageNotFound:
        try:
            client.images.pull(image)
        except DockerException:
            testcontainers_config.ryuk_disabled = True
