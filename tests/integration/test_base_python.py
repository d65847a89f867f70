"""The Python base image: a usable python:3.11-slim-bookworm that trusts the extra CA certificates."""

from __future__ import annotations

from pathlib import Path

import docker

from tests.conftest import unavailable

HOST_EXTRA_CAS = Path("/usr/local/share/ca-certificates")

# Installs from the package registry through pip (in a venv and system-wide, as Dockerfiles written
# for the official image do), uv and requests: each reads its own TLS setting.
SCRIPT = r"""
set -eu
python --version
python -m venv /tmp/venv
/tmp/venv/bin/pip install --no-cache-dir -q six==1.17.0
/tmp/venv/bin/python -c 'import six; print("venv-six", six.__version__)'
pip install --no-cache-dir -q --root-user-action=ignore uv requests
uv venv -q /tmp/uvenv
uv pip install -q --python /tmp/uvenv/bin/python six==1.16.0
/tmp/uvenv/bin/python -c 'import six; print("uv-six", six.__version__)'
python -c 'import requests; print("requests", requests.get("https://pypi.org/simple/six/", timeout=60).status_code)'
"""


def test_python_base_installs_from_the_registry(docker_client: docker.DockerClient, python_image: str) -> None:
    out = docker_client.containers.run(python_image, ["sh", "-c", SCRIPT], remove=True).decode()
    assert "Python 3.11" in out
    assert "venv-six 1.17.0" in out
    assert "uv-six 1.16.0" in out
    assert "requests 200" in out


def test_python_base_trusts_the_hosts_extra_cas(docker_client: docker.DockerClient, python_image: str) -> None:
    certs = sorted(HOST_EXTRA_CAS.glob("*.crt")) if HOST_EXTRA_CAS.is_dir() else []
    if not certs:
        unavailable(f"this host has no extra CA certificates in {HOST_EXTRA_CAS}")
    if "baton-local/" not in python_image:
        unavailable(f"{python_image} is not an offline base image, which alone is given the extra CAs")
    bundle = docker_client.containers.run(
        python_image, ["cat", "/etc/ssl/certs/ca-certificates.crt"], remove=True
    ).decode()
    for cert in certs:
        body = "".join(line for line in cert.read_text().splitlines() if not line.startswith("-----"))
        assert body[:200] in bundle.replace("\n", ""), f"{cert} is not in the image's CA bundle"
