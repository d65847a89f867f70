"""Cloud tier: terraform/envs with dev.tfvars applied to moto's server (a local AWS emulator), checked, destroyed.

Needs terraform, the AWS provider in a local plugin mirror (TF_PLUGIN_DIR) and the cloud tools
(`make cloud-tools`: .venvs/cloud with moto's server). Where one is missing the tier skips with one
reason; under CI (CI=true) that is a failure.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, free_port, stop, unavailable

REGION = "eu-central-1"
CLOUD_VENV = Path(os.environ.get("BATON_CLOUD_VENV", REPO / ".venvs" / "cloud"))
# Where `terraform init -plugin-dir` finds the AWS provider without a registry (make tf-check
# searches the same places).
PLUGIN_DIRS = ["/opt/tf-plugins", "~/.terraform.d/plugins", "/usr/share/terraform/plugins"]
TIMINGS: dict[str, float] = {}


def plugin_dir() -> Path | None:
    candidates = [os.environ["TF_PLUGIN_DIR"]] if os.environ.get("TF_PLUGIN_DIR") else PLUGIN_DIRS
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if (path / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return path
    return None


@dataclass
class Tools:
    terraform: str
    plugin_dir: Path
    moto_server: Path


@pytest.fixture(scope="session")
def tools() -> Tools:
    terraform = shutil.which("terraform")
    if not terraform:
        unavailable("terraform is not on PATH (install Terraform >= 1.11)")
    plugins = plugin_dir()
    if plugins is None:
        unavailable(
            "no AWS provider mirror: set TF_PLUGIN_DIR to a folder holding registry.terraform.io/hashicorp/aws "
            f"(searched {', '.join(PLUGIN_DIRS)})"
        )
    moto = CLOUD_VENV / "bin" / "moto_server"
    if not moto.exists():
        unavailable(f"{moto} is missing: run `make cloud-tools`")
    return Tools(terraform=terraform, plugin_dir=plugins, moto_server=moto)


@dataclass
class Moto:
    url: str
    recording: Path

    def call(self, path: str, data: bytes | None = b"") -> bytes:
        with urllib.request.urlopen(f"{self.url}/moto-api/{path}", data=data, timeout=10) as resp:
            return resp.read()

    def record(self) -> None:
        """Start recording requests afresh (moto's recorder: one JSON line per request)."""
        self.call("recorder/reset-recording")
        self.call("recorder/start-recording")

    def recorded(self) -> list[dict[str, Any]]:
        """The requests since record(), each with its body decoded to text."""
        self.call("recorder/stop-recording")
        requests = [json.loads(line) for line in self.recording.read_text().splitlines() if line.strip()]
        for request in requests:
            if request.get("body_encoded"):
                request["body"] = base64.b64decode(request["body"]).decode()
        return requests


@pytest.fixture(scope="session")
def moto(tools: Tools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    workdir = tmp_path_factory.mktemp("moto")
    port = free_port()
    env = {
        **os.environ,
        "MOTO_RECORDER_FILEPATH": str(workdir / "recording.jsonl"),
        # AWS managed IAM policies (RDS Enhanced Monitoring's role attaches one) exist only on request.
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    }
    env.pop("MOTO_ENABLE_RECORDING", None)  # recorded only between record() and recorded()
    log = (workdir / "moto.log").open("w")
    proc = subprocess.Popen(
        [str(tools.moto_server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    server = Moto(url=f"http://127.0.0.1:{port}", recording=workdir / "recording.jsonl")
    deadline = time.monotonic() + 30
    while True:
        try:
            server.call("data.json", data=None)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not answer on port {port}; see {workdir / 'moto.log'}", pytrace=False)
            time.sleep(0.2)
    try:
        yield server
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="session")
def aws_env(moto: Moto) -> dict[str, str]:
    """Credentials and endpoint that point every AWS SDK of this process and its children at moto."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto.url,
    }


@pytest.fixture(scope="session")
def aws(aws_env: dict[str, str]):
    """boto3 clients on the emulator: aws('ecs')."""
    import boto3

    session = boto3.Session(
        aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=aws_env["AWS_SESSION_TOKEN"],
        region_name=REGION,
    )
    return lambda service: session.client(service, endpoint_url=aws_env["AWS_ENDPOINT_URL"])


@dataclass
class Terraform:
    workdir: Path
    env: dict[str, str]
    terraform: str
    applied: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)

    def run(self, *args: str, timeout: int = 600) -> str:
        result = subprocess.run(
            [self.terraform, *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
            where = f"in {self.workdir} (exit {result.returncode})"
            pytest.fail(f"terraform {args[0]} failed {where}:\n{tail}", pytrace=False)
        return result.stdout

    def timed(self, label: str, *args: str) -> None:
        start = time.monotonic()
        self.run(*args)
        TIMINGS[label] = time.monotonic() - start

    def destroy(self) -> None:
        if self.applied:
            self.timed("terraform destroy dev", "destroy", "-auto-approve", "-input=false", "-no-color")
            self.applied = False


@pytest.fixture(scope="session")
def deployment(tools: Tools, moto: Moto, aws_env: dict[str, str], aws, tmp_path_factory) -> Iterator[Terraform]:
    """dev applied to the emulator from a copy of the repository's Terraform (its S3 backend replaced by a local one).

    The copy keeps the repository's layout: the spec module reads settings.env and meltano/sources.
    """
    copy = tmp_path_factory.mktemp("repo")
    for part in ("terraform/modules", "terraform/envs", "meltano/sources"):
        shutil.copytree(REPO / part, copy / part, ignore=shutil.ignore_patterns(".terraform*"))
    shutil.copy2(REPO / "settings.env", copy / "settings.env")
    root = copy / "terraform"
    workdir = root / "envs"
    (workdir / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')

    # The UI's certificate: on AWS an ACM certificate of the UI's domain; here one the emulator issues.
    certificate = aws("acm").request_certificate(DomainName="airflow.example.test")["CertificateArn"]
    (workdir / "emulator.auto.tfvars.json").write_text(
        json.dumps(
            {
                "aws_endpoint_url": moto.url,
                "image_tag": "test",
                "certificate_arn": certificate,
                # Leaves out EFS backup and file system policies, which moto cannot create or delete.
                "emulator": True,
            }
        )
    )
    (root / "terraform.rc").write_text("# no CLI settings: providers come from -plugin-dir\n")
    env = {
        **os.environ,
        **aws_env,
        "TF_DATA_DIR": str(root / ".terraform"),
        "TF_CLI_CONFIG_FILE": str(root / "terraform.rc"),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        # dev's variables, as make deploy ENV=dev passes them (terraform/tools/cloud.sh).
        "TF_CLI_ARGS_apply": "-var-file=dev.tfvars",
        "TF_CLI_ARGS_destroy": "-var-file=dev.tfvars",
    }
    tf = Terraform(workdir=workdir, env=env, terraform=tools.terraform)
    tf.run("init", f"-plugin-dir={tools.plugin_dir}", "-input=false", "-no-color")
    tf.applied = True  # from here on a failure may leave resources: destroy them in any case
    try:
        tf.timed("terraform apply dev", "apply", "-auto-approve", "-input=false", "-no-color")
        tf.outputs = {k: v["value"] for k, v in json.loads(tf.run("output", "-json")).items()}
        yield tf
    finally:
        tf.destroy()


def pytest_terminal_summary(terminalreporter) -> None:
    if TIMINGS:
        terminalreporter.section("cloud tier timings (moto)")
        for label, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{label}: {seconds:.1f} s")
