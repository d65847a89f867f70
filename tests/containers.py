"""Container plumbing shared by the integration tests and the benchmarks."""

from __future__ import annotations

import docker
import pytest
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


def remove_compose_project(client: docker.DockerClient, project: str) -> None:
    """Remove what a compose project left on the engine (containers, volumes, networks), whichever
    checkout or env file created it: a stack test starts from nothing even when an earlier run on
    this machine was stopped before its own `make reset`."""
    label = {"label": f"com.docker.compose.project={project}"}
    for container in client.containers.list(all=True, filters=label):
        container.remove(force=True, v=True)
    for volume in client.volumes.list(filters=label):
        volume.remove(force=True)
    for network in client.networks.list(filters=label):
        network.remove()


def ensure_image(client: docker.DockerClient, setting: str) -> str:
    """The image named by `setting`, present locally (pulled if a registry answers)."""
    from tests.conftest import image_setting

    name = image_setting(setting)
    try:
        client.images.get(name)
    except ImageNotFound:
        try:
            client.images.pull(name)
        except DockerException as exc:
            pytest.fail(
                f"{setting}={name} is not on this engine and cannot be pulled ({exc}). "
                "Where no registry answers, run `make base-images` to build the offline images.",
                pytrace=False,
            )
    return name
