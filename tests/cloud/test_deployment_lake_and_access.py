"""dev on the emulator: the lake, sign-in, the job's size, the security group rules, no secret in sight.

Same deployment as test_dev_on_moto.py (session fixture); this file's name sorts before it, so
these run before that file's last test destroys the deployment.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.airflow_image import AIRFLOW, FAB, image_environment, run_init, wait_for
from tests.cloud.conftest import REGION, Terraform
from tests.cloud.test_dev_on_moto import COMPONENTS, FOLDERS, NAME, SETTINGS, containers
from tests.conftest import free_port, stop
from tests.containers import configure_ryuk, docker_engine, ensure_image

SIGN_IN_SECRETS = {"BATON_AIRFLOW_PASSWORD", "BATON_AUTOMATION_PASSWORD"}


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["environment"]}


def secrets_of(container: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["valueFrom"] for s in container["secrets"]}


def statements(document: str | dict) -> list[dict[str, Any]]:
    policy = json.loads(document) if isinstance(document, str) else document
    found = policy["Statement"]
    for statement in found:
        for key in ("Action", "Resource"):
            if isinstance(statement.get(key), str):
                statement[key] = [statement[key]]
    return found


def task_role_policies(aws, task_definition: str) -> list[dict[str, Any]]:
    iam = aws("iam")
    role = aws("ecs").describe_task_definition(taskDefinition=task_definition)["taskDefinition"]["taskRoleArn"]
    name = role.rsplit("/", 1)[1]
    found = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        found += statements(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
    return found


def test_the_lake_bucket_is_private_encrypted_versioned_and_tls_only(deployment: Terraform, aws) -> None:
    lake = deployment.outputs["lake"]
    bucket = lake["bucket"]
    assert bucket.startswith(f"{NAME}-lake-")
    assert lake["data_path"] == f"s3://{bucket}/lake/"
    s3 = aws("s3")
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    key = aws("kms").describe_key(KeyId=f"alias/{NAME}")["KeyMetadata"]["Arn"]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()), block
    (deny,) = statements(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (expire,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert expire["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7


def test_jobs_get_the_lake_and_may_touch_only_its_prefix(deployment: Terraform, aws) -> None:
    lake, arns = deployment.outputs["lake"], deployment.outputs["secret_arns"]
    (jobs,) = containers(aws, deployment.outputs["jobs_task_definition"])
    env = env_of(jobs)
    assert env["BATON_WAREHOUSE"] == "lake"
    assert env["BATON_LAKE_DATA_PATH"] == lake["data_path"]
    assert env["BATON_LAKE_S3_REGION"] == REGION
    assert "BATON_WAREHOUSE_DIR" not in env
    assert secrets_of(jobs)["BATON_LAKE_CATALOG_URL"] == arns["lake-catalog-url"]

    bucket_arn = f"arn:aws:s3:::{lake['bucket']}"
    policies = task_role_policies(aws, deployment.outputs["jobs_task_definition"])
    s3 = [s for s in policies if s["Action"][0].startswith("s3:")]
    resources = {r for s in s3 for r in s["Resource"]}
    assert resources == {bucket_arn, f"{bucket_arn}/lake/*"}, resources
    listing = next(s for s in s3 if s["Resource"] == [bucket_arn])
    assert listing["Action"] == ["s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "lake/*"}}
    objects = next(s for s in s3 if s["Resource"] == [f"{bucket_arn}/lake/*"])
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= set(objects["Action"])
    # The Airflow components never touch the lake: DuckDB runs in job tasks only.
    airflow = task_role_policies(aws, f"{NAME}-scheduler")
    assert not [r for s in airflow for r in s["Resource"] if lake["bucket"] in r]


def test_readers_outside_the_stack_get_a_read_only_role_and_policy(deployment: Terraform, aws) -> None:
    lake = deployment.outputs["lake"]
    iam = aws("iam")
    policy = iam.get_policy(PolicyArn=lake["read_only_policy_arn"])["Policy"]
    document = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
    actions = {a for s in statements(document["PolicyVersion"]["Document"]) for a in s["Action"]}
    assert actions == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}, actions

    # The catalog's read-only role: its URL is a secret, and the init container creates it.
    assert lake["reader_role"] == "lake_reader"
    url = aws("secretsmanager").get_secret_value(SecretId=lake["reader_secret_arn"])["SecretString"]
    host = deployment.outputs["database_address"]
    assert url.startswith("postgresql://lake_reader:") and url.endswith(f"@{host}:5432/lake?sslmode=require")
    assert lake["catalog"] == {"database": "lake", "host": host, "port": 5432}
    init = next(c for c in containers(aws, f"{NAME}-api-server") if c["name"] == "init")
    env, secrets = env_of(init), secrets_of(init)
    assert env["BATON_INIT_DATABASES"].split(",")[-1] == "BATON_LAKE_CATALOG_URL"
    assert env["BATON_INIT_READERS"] == "BATON_LAKE_READER_URL"
    assert secrets["BATON_LAKE_READER_URL"] == lake["reader_secret_arn"]
    assert secrets["BATON_LAKE_CATALOG_URL"] == deployment.outputs["secret_arns"]["lake-catalog-url"]


def test_efs_holds_only_the_file_sources_folders(deployment: Terraform, aws) -> None:
    (file_system,) = aws("efs").describe_file_systems()["FileSystems"]
    assert file_system["FileSystemId"] == deployment.outputs["efs_file_system_id"]
    points = aws("efs").describe_access_points(FileSystemId=file_system["FileSystemId"])["AccessPoints"]
    assert {p["RootDirectory"]["Path"] for p in points} == {f"/{f}" for f in FOLDERS}
    # The job may mount them, and write none.
    policies = task_role_policies(aws, deployment.outputs["jobs_task_definition"])
    efs = [s for s in policies if s["Action"][0].startswith("elasticfilesystem:")]
    assert [s["Action"] for s in efs] == [["elasticfilesystem:ClientMount"]]


def test_airflow_signs_in_with_fab_and_secrets_from_secrets_manager(deployment: Terraform, aws) -> None:
    arns, access = deployment.outputs["secret_arns"], deployment.outputs["access"]
    assert access["admin_user"] == SETTINGS["BATON_AIRFLOW_USER"]
    assert access["automation_user"] == "baton-automation"
    assert access["oidc_issuer"] == ""
    for component in COMPONENTS:
        for container in containers(aws, f"{NAME}-{component}"):
            env, secrets = env_of(container), secrets_of(container)
            assert env["AIRFLOW__CORE__AUTH_MANAGER"] == FAB, (component, container["name"])
            assert not [k for k in env if "SIMPLE_AUTH_MANAGER" in k or k.startswith("BATON_OIDC_")]
            if container["name"] == "init":
                # Only the init container holds the accounts' passwords: it creates the first
                # admin and the service account of automation (role Op), or sets their passwords.
                assert secrets["BATON_AIRFLOW_PASSWORD"] == access["admin_password_secret_arn"]
                assert access["admin_password_secret_arn"] == arns["airflow-admin-password"]
                assert secrets["BATON_AUTOMATION_PASSWORD"] == access["automation_password_secret_arn"]
                assert env["BATON_AIRFLOW_USER"] == access["admin_user"]
                assert env["BATON_AUTOMATION_USER"] == access["automation_user"]
            else:
                assert not SIGN_IN_SECRETS & set(secrets), (component, container["name"])
    secretsmanager = aws("secretsmanager")
    for key in ("airflow-admin-password", "automation-password"):
        value = secretsmanager.get_secret_value(SecretId=arns[key])["SecretString"]
        assert len(value) == 64 and value.isalnum(), key


def test_oidc_client_secret_goes_to_secrets_manager_never_to_the_plan(deployment: Terraform) -> None:
    """A plan that turns OIDC on: the client secret becomes a secret of the api-server, and its
    value is in neither the saved plan nor its JSON (an ephemeral variable, a write-only argument)."""
    client_secret = "oidc-client-secret-7Hq2vX9pLw"
    plan = deployment.workdir / "oidc.tfplan"
    deployment.run(
        "plan", "-refresh=false", "-input=false", "-no-color", "-var-file=dev.tfvars", f"-out={plan.name}",
        "-var", 'oidc={issuer = "https://login.example.test/realms/data", client_id = "baton-dev",'
        ' role_mapping = {"data-engineers" = "Op", "analysts" = "Viewer"}}',
        "-var", f"oidc_client_secret={client_secret}",
    )  # fmt: skip
    shown = deployment.run("show", "-json", plan.name)
    assert client_secret not in shown
    assert client_secret.encode() not in plan.read_bytes()
    changes = {c["address"]: c for c in json.loads(shown)["resource_changes"]}
    secret = changes['module.baton.module.secrets.aws_secretsmanager_secret.this["oidc-client-secret"]']
    assert secret["change"]["actions"] == ["create"]
    assert secret["change"]["after"]["name"] == f"{NAME}/oidc-client-secret"
    assert 'module.baton.module.secrets.aws_secretsmanager_secret_version.given["oidc-client-secret"]' in changes
    task_definition = 'module.baton.module.airflow.aws_ecs_task_definition.this["{}"]'
    # The api-server's containers name the new secret's ARN, known only once it exists.
    assert changes[task_definition.format("api-server")]["change"]["after_unknown"]["container_definitions"] is True
    scheduler = changes[task_definition.format("scheduler")]["change"]["after"]
    (airflow,) = json.loads(scheduler["container_definitions"])
    env = env_of(airflow)
    assert env["BATON_OIDC_ISSUER"] == "https://login.example.test/realms/data"
    assert env["BATON_OIDC_CLIENT_ID"] == "baton-dev"
    assert json.loads(env["BATON_OIDC_ROLES"]) == {"data-engineers": "Op", "analysts": "Viewer"}
    assert "BATON_OIDC_CLIENT_SECRET" not in secrets_of(airflow)  # the api-server's only
    plan.unlink()


def test_the_job_task_size_is_the_jobs_memory_limit(deployment: Terraform, aws) -> None:
    family = deployment.outputs["jobs_task_definition"]
    task = aws("ecs").describe_task_definition(taskDefinition=family)["taskDefinition"]
    (container,) = task["containerDefinitions"]
    # dev.tfvars: jobs = { cpu = 1024, memory = 2048 }.
    assert (task["cpu"], task["memory"]) == ("1024", "2048")
    assert (container["cpu"], container["memory"]) == (1024, 2048)


def rules(aws, group_id: str) -> set[tuple]:
    found = aws("ec2").describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return {
        (
            "egress" if r["IsEgress"] else "ingress",
            r["IpProtocol"],
            r["FromPort"],
            r["ToPort"],
            r.get("CidrIpv4") or r.get("ReferencedGroupInfo", {}).get("GroupId"),
        )
        for r in found["SecurityGroupRules"]
    }


def test_security_group_rules(deployment: Terraform, aws) -> None:
    """Who may talk to whom, as modules/deployment/security.tf declares it."""
    ec2 = aws("ec2")
    groups = {g["GroupName"]: g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Vpcs"][0]["CidrBlock"]
    port = int(SETTINGS["BATON_AIRFLOW_PORT"])
    alb, airflow, jobs = groups[f"{NAME}-alb"], groups[f"{NAME}-airflow"], groups[f"{NAME}-jobs"]
    db, efs = groups[f"{NAME}-db"], groups[f"{NAME}-efs"]
    assert rules(aws, alb) == {
        ("ingress", "tcp", 443, 443, "0.0.0.0/0"),
        ("ingress", "tcp", 80, 80, "0.0.0.0/0"),
        ("egress", "tcp", port, port, vpc),
    }
    assert rules(aws, airflow) == {
        ("ingress", "tcp", port, port, alb),
        ("ingress", "tcp", port, port, airflow),
        ("egress", "tcp", port, port, airflow),
        ("egress", "tcp", 443, 443, "0.0.0.0/0"),
        ("egress", "tcp", 5432, 5432, vpc),
    }
    assert rules(aws, jobs) == {  # no ingress at all
        ("egress", "tcp", 443, 443, "0.0.0.0/0"),
        ("egress", "tcp", 5432, 5432, vpc),
        ("egress", "tcp", 2049, 2049, efs),
    }
    assert rules(aws, db) == {("ingress", "tcp", 5432, 5432, airflow), ("ingress", "tcp", 5432, 5432, jobs)}
    assert rules(aws, efs) == {("ingress", "tcp", 2049, 2049, jobs)}


def secret_value(aws, value_from: str) -> str:
    """A container secret's value as ECS resolves it: `<secret ARN>` or `<secret ARN>:<json key>::`."""
    parts = value_from.split(":")
    text = aws("secretsmanager").get_secret_value(SecretId=":".join(parts[:7]))["SecretString"]
    return json.loads(text)[parts[7]] if len(parts) > 7 and parts[7] else text


@pytest.fixture(scope="module")
def api_server_task_output(deployment: Terraform, aws, tmp_path_factory) -> dict[str, str]:
    """What the api-server task's two containers print as they start, delivered to CloudWatch as
    the awslogs driver would: the image's baton-airflow-init and Airflow's api-server, run on this
    machine with each container's environment and its secrets' values from the emulator's Secrets
    Manager. The database server (RDS on AWS) is a local Postgres whose admin is the RDS master
    user: the URLs keep their users and passwords, only their host and port point to it."""
    from testcontainers.community.postgres import PostgresContainer

    client = docker_engine()
    configure_ryuk(client)
    image = ensure_image(client, "BATON_POSTGRES_IMAGE")
    definitions = {c["name"]: c for c in containers(aws, f"{NAME}-api-server")}
    rds = deployment.outputs["database_address"]
    master = {k: secret_value(aws, v) for k, v in secrets_of(definitions["init"]).items() if "DB_ADMIN" in k}
    home = tmp_path_factory.mktemp("airflow-home")
    logs = aws("logs")
    admin, password = master["BATON_DB_ADMIN_USER"], master["BATON_DB_ADMIN_PASSWORD"]
    with PostgresContainer(image, username=admin, password=password) as pg:
        local = f"{pg.get_container_host_ip()}:{pg.get_exposed_port(5432)}"

        def settings(container: dict[str, Any]) -> dict[str, str]:
            values = {**env_of(container), **{k: secret_value(aws, v) for k, v in secrets_of(container).items()}}
            for key, value in values.items():
                url = urlsplit(value)
                if url.scheme.startswith("postgresql") and url.hostname == rds:
                    netloc = url.netloc.rsplit("@", 1)[0] + "@" + local
                    values[key] = url._replace(netloc=netloc, query="").geturl()  # no TLS on the local server
            # Task logs go to CloudWatch through Airflow's own handler, not the containers' output.
            return {**image_environment(home), **values, "AIRFLOW__LOGGING__REMOTE_LOGGING": "False"}

        output = {"init": run_init(settings(definitions["init"]))}
        port = free_port()
        env = {**settings(definitions["airflow"]), "AIRFLOW__API__WORKERS": "1"}
        log = home / "api-server.log"
        with log.open("w") as out:
            proc = subprocess.Popen([str(AIRFLOW), "api-server", "--port", str(port)], env=env, stdout=out, stderr=out)
        try:
            wait_for(f"http://127.0.0.1:{port}/api/v2/monitor/health", proc, 600, log)
        finally:
            stop(proc)
        output["airflow"] = log.read_text()
    for name, text in output.items():
        options = definitions[name]["logConfiguration"]["options"]
        group, stream = options["awslogs-group"], f"{options['awslogs-stream-prefix']}/{name}/local-run"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)
        lines = [line for line in text.splitlines() if line.strip()]
        events = [{"timestamp": now, "message": line} for line in lines]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    return output


def test_no_secret_value_in_task_definitions_logs_or_state(
    deployment: Terraform, aws, api_server_task_output: dict[str, str]
) -> None:
    """Every secret's value (generated, the RDS master's) is absent from every container's
    environment, from every CloudWatch log event the emulator holds (the api-server task's output
    among them: init created the accounts, the api-server started) and from the Terraform state."""
    assert "user baton-automation: created (Op)" in api_server_task_output["init"]
    secretsmanager = aws("secretsmanager")
    values: dict[str, str] = {}
    for secret in secretsmanager.list_secrets()["SecretList"]:
        try:
            value = secretsmanager.get_secret_value(SecretId=secret["ARN"])["SecretString"]
        except secretsmanager.exceptions.ResourceNotFoundException:
            continue  # a source's secret, empty until filled in
        try:  # {"username": ..., "password": ...}: the RDS master
            values |= {f"{secret['Name']}.{k}": v for k, v in json.loads(value).items() if k == "password"}
        except json.JSONDecodeError:
            values[secret["Name"]] = value
    assert f"{NAME}/airflow-admin-password" in values and f"{NAME}/lake-reader-url" in values
    # A URL's password is the secret part.
    values = {name: urlsplit(v).password or v for name, v in values.items()}

    ecs = aws("ecs")
    for arn in ecs.list_task_definitions(familyPrefix=NAME, status="ACTIVE")["taskDefinitionArns"]:
        for container in containers(aws, arn):
            text = json.dumps(container["environment"])
            leaked = [name for name, value in values.items() if value in text]
            assert not leaked, (arn, container["name"], leaked)

    logs = aws("logs")
    scanned = 0
    for group in logs.describe_log_groups(logGroupNamePrefix=f"/{NAME}")["logGroups"]:
        events = logs.filter_log_events(logGroupName=group["logGroupName"]).get("events", [])
        text = "\n".join(e["message"] for e in events)
        leaked = [name for name, value in values.items() if value in text]
        assert not leaked, (group["logGroupName"], leaked)
        scanned += len(events)
    assert scanned >= len(api_server_task_output["init"].splitlines()), "the api-server task's output is in CloudWatch"

    state = (deployment.workdir / "terraform.tfstate").read_text()
    leaked = [name for name, value in values.items() if value in state]
    assert not leaked, f"in the Terraform state: {leaked}"
