"""dev on the emulator: what apply builds, what the ecs runner asks for, what destroy leaves.

The tests run in file order on one deployment; the last one destroys it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
import yaml

from tests.cloud.conftest import Moto, Terraform
from tests.conftest import REPO, read_settings

NAME = "baton-dev"
COMPONENTS = {"api-server", "scheduler", "dag-processor", "triggerer"}
AIRFLOW_SECRETS = {
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
}
# What Terraform reads: settings.env and the sources' `baton:` declarations.
SETTINGS = read_settings(REPO / "settings.env")
DECLARATIONS = {
    path.name.removesuffix(".meltano.yml"): (yaml.safe_load(path.read_text()) or {}).get("baton") or {}
    for path in sorted((REPO / "meltano" / "sources").glob("*.meltano.yml"))
}
SOURCE_SECRETS = {env for d in DECLARATIONS.values() for env in d.get("secrets") or []}
FOLDERS = {folder for d in DECLARATIONS.values() for folder in (d.get("folders") or {}).values()}
# dev's warehouse is the lake: jobs get its catalog URL as a secret.
JOBS_SECRETS = {"MELTANO_DATABASE_URI", "BATON_LAKE_CATALOG_URL", *SOURCE_SECRETS}
SIGN_IN_SECRETS = {"BATON_AIRFLOW_PASSWORD", "BATON_AUTOMATION_PASSWORD"}


def containers(aws, task_definition: str) -> list[dict[str, Any]]:
    return aws("ecs").describe_task_definition(taskDefinition=task_definition)["taskDefinition"]["containerDefinitions"]


def test_cluster_offers_fargate_and_spot(deployment: Terraform, aws) -> None:
    (cluster,) = aws("ecs").describe_clusters(clusters=[deployment.outputs["cluster_name"]])["clusters"]
    assert cluster["status"] == "ACTIVE"
    assert set(cluster["capacityProviders"]) == {"FARGATE", "FARGATE_SPOT"}


def test_four_airflow_services_in_private_subnets(deployment: Terraform, aws) -> None:
    ecs = aws("ecs")
    cluster = deployment.outputs["cluster_name"]
    arns = ecs.list_services(cluster=cluster)["serviceArns"]
    services = ecs.describe_services(cluster=cluster, services=arns)["services"]
    assert {s["serviceName"] for s in services} == COMPONENTS
    private = set(deployment.outputs["private_subnet_ids"])
    for service in services:
        vpc = service["networkConfiguration"]["awsvpcConfiguration"]
        assert set(vpc["subnets"]) == private, service["serviceName"]
        assert vpc["assignPublicIp"] == "DISABLED", service["serviceName"]
    by_name = {s["serviceName"]: s for s in services}
    # One-off admin tasks (docs/cloud.md: adding users) take the scheduler's network from an output.
    (one_off,) = json.loads(deployment.outputs["airflow_network_configuration"]).values()
    scheduler = by_name["scheduler"]["networkConfiguration"]["awsvpcConfiguration"]
    assert set(one_off["subnets"]) == set(scheduler["subnets"]) == private
    assert one_off["securityGroups"] == scheduler["securityGroups"] and one_off["assignPublicIp"] == "DISABLED"
    (target,) = by_name["api-server"]["loadBalancers"]
    assert target["containerPort"] == int(SETTINGS["BATON_AIRFLOW_PORT"])
    assert all(not by_name[n]["loadBalancers"] for n in COMPONENTS - {"api-server"})


def test_no_service_runs_the_jobs_task_definition(deployment: Terraform, aws) -> None:
    ecs = aws("ecs")
    cluster = deployment.outputs["cluster_name"]
    services = ecs.describe_services(cluster=cluster, services=ecs.list_services(cluster=cluster)["serviceArns"])
    families = {s["taskDefinition"].rsplit("/", 1)[1].split(":")[0] for s in services["services"]}
    assert families == {f"{NAME}-{c}" for c in COMPONENTS}
    assert deployment.outputs["jobs_task_definition"] not in families


def test_jobs_task_definition_runs_the_jobs_image_from_ecr(deployment: Terraform, aws) -> None:
    (repo,) = aws("ecr").describe_repositories(repositoryNames=[f"{NAME}/jobs"])["repositories"]
    definition = aws("ecs").describe_task_definition(taskDefinition=deployment.outputs["jobs_task_definition"])
    task = definition["taskDefinition"]
    (container,) = task["containerDefinitions"]
    assert container["name"] == "jobs"
    assert container["image"] == f"{repo['repositoryUri']}:test"
    assert container["memory"] == int(task["memory"])
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"
    assert task["executionRoleArn"] != task["taskRoleArn"]
    # One access point per folder the sources declare, mounted read-only under /data; the
    # warehouse is the lake, not a volume.
    volumes = {v["name"]: v["efsVolumeConfiguration"] for v in task["volumes"]}
    assert set(volumes) == FOLDERS
    assert all(v["transitEncryption"] == "ENABLED" for v in volumes.values())
    data = SETTINGS["BATON_JOB_DATA_DIR"]
    mounts = {m["sourceVolume"]: (m["containerPath"], m["readOnly"]) for m in container["mountPoints"]}
    assert mounts == {f: (f"{data}/{f}", True) for f in FOLDERS}
    env = {e["name"]: e["value"] for e in container["environment"]}
    for declaration in DECLARATIONS.values():
        for variable, folder in (declaration.get("folders") or {}).items():
            assert env[variable] == f"{data}/{folder}"
    access_points = aws("efs").describe_access_points()["AccessPoints"]
    assert {a["RootDirectory"]["Path"] for a in access_points} == {f"/{f}" for f in FOLDERS}
    assert container["logConfiguration"]["options"]["awslogs-group"] == deployment.outputs["jobs_log_group"]


def test_secrets_are_passed_as_secrets_not_environment(deployment: Terraform, aws) -> None:
    arns = set(deployment.outputs["secret_arns"].values())
    (jobs,) = containers(aws, deployment.outputs["jobs_task_definition"])
    assert {s["name"] for s in jobs["secrets"]} == JOBS_SECRETS
    assert {s["valueFrom"] for s in jobs["secrets"]} <= arns
    assert not JOBS_SECRETS & {e["name"] for e in jobs["environment"]}
    for component in COMPONENTS:
        for container in containers(aws, f"{NAME}-{component}"):
            names = {s["name"] for s in container["secrets"]}
            assert names >= AIRFLOW_SECRETS, (component, container["name"])
            leaked = (AIRFLOW_SECRETS | JOBS_SECRETS | SIGN_IN_SECRETS | {"BATON_DB_ADMIN_PASSWORD"}) & {
                e["name"] for e in container["environment"]
            }
            assert not leaked, (component, container["name"], leaked)
    # The secrets exist, encrypted with the deployment's key.
    secretsmanager = aws("secretsmanager")
    for arn in arns:
        assert secretsmanager.describe_secret(SecretId=arn)["KmsKeyId"]


def test_each_declared_source_secret_is_a_secret_of_the_jobs_task(deployment: Terraform, aws) -> None:
    """One secret per variable the sources declare (meltano/sources/*.meltano.yml), empty until filled in."""
    arns = deployment.outputs["secret_arns"]
    (jobs,) = containers(aws, deployment.outputs["jobs_task_definition"])
    value_from = {s["name"]: s["valueFrom"] for s in jobs["secrets"]}
    for variable in SOURCE_SECRETS:
        key = variable.removeprefix("BATON_").lower().replace("_", "-")
        assert value_from[variable] == arns[key], variable
        assert f"{NAME}/{key}" in deployment.outputs["external_secret_names"]


def test_generated_secrets_hold_usable_values(deployment: Terraform, aws) -> None:
    """The JWT secret, Fernet key and database URLs were written (write-only: not in the state)."""
    from cryptography.fernet import Fernet

    secretsmanager, arns = aws("secretsmanager"), deployment.outputs["secret_arns"]
    generated = ("jwt-secret", "fernet-key", "api-secret-key", "airflow-db-url", "meltano-db-url", "lake-catalog-url")
    value = {k: secretsmanager.get_secret_value(SecretId=arns[k])["SecretString"] for k in generated}
    Fernet(value["fernet-key"].encode())  # raises unless a valid Fernet key
    assert len(value["jwt-secret"]) == 64 and len(value["api-secret-key"]) == 64
    host = deployment.outputs["database_address"]
    assert value["airflow-db-url"].startswith("postgresql+psycopg2://airflow:")
    assert value["meltano-db-url"].startswith("postgresql+psycopg://meltano:")
    assert value["lake-catalog-url"].startswith("postgresql://lake:")
    assert value["lake-catalog-url"].endswith(f"@{host}:5432/lake?sslmode=require")
    assert f"@{host}" in value["airflow-db-url"]
    state = (deployment.workdir / "terraform.tfstate").read_text()
    for key in generated:
        assert value[key] not in state, f"{key} leaked into the Terraform state"


def test_airflow_containers_carry_airflow_3_and_runner_settings(deployment: Terraform, aws) -> None:
    runner = deployment.outputs["runner_environment"]
    for component in COMPONENTS:
        airflow = next(c for c in containers(aws, f"{NAME}-{component}") if c["name"] == "airflow")
        env = {e["name"]: e["value"] for e in airflow["environment"]}
        assert (
            env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
            == f"http://api-server:{SETTINGS['BATON_AIRFLOW_PORT']}/execution/"
        )
        assert env["BATON_WAREHOUSE_POOL"] == SETTINGS["BATON_WAREHOUSE_POOL"]
        bundle = json.loads(env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
        assert bundle[0]["kwargs"]["bucket_name"] == deployment.outputs["dag_bucket"]
        assert env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"].startswith("cloudwatch://arn:aws:logs:")
        assert {k: env[k] for k in runner} == runner, component


def test_images_repositories_are_immutable_and_scanned(aws) -> None:
    repos = aws("ecr").describe_repositories(repositoryNames=[f"{NAME}/airflow", f"{NAME}/jobs"])["repositories"]
    assert len(repos) == 2
    for repo in repos:
        assert repo["imageTagMutability"] == "IMMUTABLE"
        assert repo["imageScanningConfiguration"]["scanOnPush"] is True
        assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"


def test_database_is_private_encrypted_with_managed_password(deployment: Terraform, aws) -> None:
    (db,) = aws("rds").describe_db_instances(DBInstanceIdentifier=NAME)["DBInstances"]
    assert db["PubliclyAccessible"] is False
    assert db["StorageEncrypted"] is True
    assert db["MasterUserSecret"]["SecretArn"]
    subnets = {s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]}
    assert subnets == set(deployment.outputs["private_subnet_ids"])


def test_only_the_load_balancer_is_public(deployment: Terraform, aws) -> None:
    ec2, elbv2 = aws("ec2"), aws("elbv2")
    private = ec2.describe_subnets(SubnetIds=deployment.outputs["private_subnet_ids"])["Subnets"]
    assert not any(s["MapPublicIpOnLaunch"] for s in private)
    associated = {"Name": "association.subnet-id", "Values": [s["SubnetId"] for s in private]}
    tables = ec2.describe_route_tables(Filters=[associated])
    for table in tables["RouteTables"]:
        assert not any(r.get("GatewayId", "").startswith("igw-") for r in table["Routes"]), table["RouteTableId"]
    (lb,) = elbv2.describe_load_balancers(Names=[NAME])["LoadBalancers"]
    assert {az["SubnetId"] for az in lb["AvailabilityZones"]} == set(deployment.outputs["public_subnet_ids"])
    found = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    listeners = {lst["Port"]: lst for lst in found}
    assert listeners[443]["Protocol"] == "HTTPS" and listeners[443]["Certificates"]
    redirect = listeners[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect" and redirect["RedirectConfig"]["Protocol"] == "HTTPS"


class TaskInstance:
    """What EcsRunTaskOperator.execute needs of a task instance: its identity (the ECS task's
    startedBy derives from it) and somewhere to push the task ARN."""

    dag_id, task_id, run_id, map_index = "ingest_shop", "extract_load", "scheduled__2026-11-01", -1

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_ecs_runner_starts_the_job_in_private_subnets(
    deployment: Terraform, moto: Moto, aws, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    outputs = deployment.outputs
    for key, value in {**aws_env, **outputs["runner_environment"]}.items():
        monkeypatch.setenv(key, value)
    conn = {"conn_type": "aws", "extra": {"endpoint_url": moto.url, "region_name": aws_env["AWS_REGION"]}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    monkeypatch.syspath_prepend(str(REPO / "dags"))
    for module in [m for m in sys.modules if m == "baton" or m.startswith("baton.")]:
        monkeypatch.delitem(sys.modules, module)
    from baton.config import load_config
    from baton.runners import job_operator

    command = ["meltano", "run", "tap-shop", "target-raw-shop"]
    operator = job_operator("extract_load", command, load_config(), env={"BATON_CYCLE_ID": "2026-11-01"})
    ti = TaskInstance()
    moto.record()
    with pytest.raises(TaskDeferred) as deferred:  # deferrable: the triggerer waits for the task
        operator.execute({"ti": ti})
    requests = moto.recorded()

    run_tasks = [r for r in requests if r["headers"].get("X-Amz-Target", "").endswith(".RunTask")]
    assert len(run_tasks) == 1, [r["headers"].get("X-Amz-Target") for r in requests]
    body = json.loads(run_tasks[0]["body"])
    assert body["cluster"] == outputs["cluster_name"]
    assert body["taskDefinition"] == outputs["jobs_task_definition"]
    assert body["overrides"]["containerOverrides"] == [
        {"name": "jobs", "command": command, "environment": [{"name": "BATON_CYCLE_ID", "value": "2026-11-01"}]}
    ]
    assert body["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT"}]
    assert "launchType" not in body
    vpc = body["networkConfiguration"]["awsvpcConfiguration"]
    assert vpc["subnets"] == outputs["private_subnet_ids"]
    assert vpc["securityGroups"] == [outputs["jobs_security_group_id"]]
    assert vpc["assignPublicIp"] == "DISABLED"

    # The task moto started is the one the operator waits for, and its logs are where it looks.
    (task,) = aws("ecs").describe_tasks(cluster=outputs["cluster_name"], tasks=[ti.pushed["ecs_task_arn"]])["tasks"]
    assert task["taskDefinitionArn"] == outputs["jobs_task_definition_arn"]
    trigger = deferred.value.trigger.serialize()[1]
    assert trigger["task_arn"] == task["taskArn"]
    assert trigger["log_group"] == outputs["jobs_log_group"]
    assert trigger["log_stream"] == f"jobs/jobs/{task['taskArn'].rsplit('/', 1)[1]}"

    # A retry of the same task instance (a fresh operator, as after a scheduler restart) follows
    # the ECS task still running instead of starting a second one.
    retry = job_operator("extract_load", command, load_config(), env={"BATON_CYCLE_ID": "2026-11-01"})
    moto.record()
    with pytest.raises(TaskDeferred) as again:
        retry.execute({"ti": TaskInstance()})
    targets = [r["headers"].get("X-Amz-Target", "") for r in moto.recorded()]
    assert not [t for t in targets if t.endswith(".RunTask")], targets
    assert again.value.trigger.serialize()[1]["task_arn"] == task["taskArn"]


def test_an_ecs_task_stopped_by_spot_is_retried_at_once(
    deployment: Terraform, moto: Moto, aws, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job task that Fargate Spot takes back ends in JobInterrupted, which the task's retry
    policy retries with no delay; a task that simply failed keeps the ordinary delayed retry."""
    from datetime import timedelta

    from airflow.sdk.exceptions import TaskDeferred

    outputs = deployment.outputs
    for key, value in {**aws_env, **outputs["runner_environment"]}.items():
        monkeypatch.setenv(key, value)
    conn = {"conn_type": "aws", "extra": {"endpoint_url": moto.url, "region_name": aws_env["AWS_REGION"]}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    monkeypatch.syspath_prepend(str(REPO / "dags"))
    for module in [m for m in sys.modules if m == "baton" or m.startswith("baton.")]:
        monkeypatch.delitem(sys.modules, module)
    from baton.config import load_config
    from baton.runners import JobInterrupted, job_operator

    ti = TaskInstance()
    ti.run_id = "scheduled__2026-11-02"  # a task instance of its own: no earlier task to follow
    operator = job_operator("extract_load", ["el", "shop"], load_config())
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({"ti": ti})
    arn = deferred.value.trigger.serialize()[1]["task_arn"]
    # What ECS does to a Spot task whose capacity is taken back (after its two-minute SIGTERM notice).
    aws("ecs").stop_task(cluster=outputs["cluster_name"], task=arn, reason="Your Spot Task was interrupted.")
    resumed = job_operator("extract_load", ["el", "shop"], load_config())  # as the triggerer resumes it
    with pytest.raises(JobInterrupted, match="stopped by a Spot interruption") as raised:
        resumed.execute_complete({}, {"status": "success", "task_arn": arn, "cluster": outputs["cluster_name"]})
    decision = resumed.retry_policy.evaluate(raised.value, try_number=1, max_tries=7)
    assert (decision.action.value, decision.retry_delay) == ("retry", timedelta(0))


def test_destroy_leaves_nothing(deployment: Terraform, aws) -> None:
    deployment.destroy()

    ecs = aws("ecs")
    clusters = ecs.describe_clusters(clusters=[NAME])["clusters"]
    assert all(c["status"] == "INACTIVE" for c in clusters), clusters
    active = ecs.list_task_definitions(familyPrefix=NAME, status="ACTIVE")["taskDefinitionArns"]
    assert not active, active
    assert not aws("ecr").describe_repositories()["repositories"]
    assert not aws("rds").describe_db_instances()["DBInstances"]
    assert not aws("efs").describe_file_systems()["FileSystems"]
    assert not aws("elbv2").describe_load_balancers()["LoadBalancers"]
    assert not aws("elbv2").describe_target_groups()["TargetGroups"]
    buckets = [b["Name"] for b in aws("s3").list_buckets()["Buckets"] if b["Name"].startswith(NAME)]
    assert not buckets, buckets
    assert not aws("secretsmanager").list_secrets()["SecretList"]
    assert not aws("logs").describe_log_groups(logGroupNamePrefix=f"/{NAME}")["logGroups"]
    assert not aws("servicediscovery").list_namespaces()["Namespaces"]
    roles = [r["RoleName"] for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith(NAME)]
    assert not roles, roles
    policies = [p["PolicyName"] for p in aws("iam").list_policies(Scope="Local")["Policies"]]
    assert not [p for p in policies if p.startswith(NAME)], policies
    ec2 = aws("ec2")
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]
    assert not vpcs, vpcs
    groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"]
    assert not groups, groups
    assert not ec2.describe_flow_logs()["FlowLogs"]
    assert not aws("rds").describe_db_subnet_groups()["DBSubnetGroups"]
    parameter_groups = aws("rds").describe_db_parameter_groups()["DBParameterGroups"]
    assert NAME not in {g["DBParameterGroupName"] for g in parameter_groups}
    assert not ec2.describe_addresses()["Addresses"]
    nats = ec2.describe_nat_gateways()["NatGateways"]
    assert all(n["State"] == "deleted" for n in nats), nats
    # KMS keys cannot vanish at once: they wait out their deletion window.
    kms = aws("kms")
    states = {kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in kms.list_keys()["Keys"]}
    assert states <= {"PendingDeletion"}, states
    assert not [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/{NAME}"]
