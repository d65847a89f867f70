"""AWS steps of `make deploy` that would otherwise need the AWS CLI.

python terraform/tools/aws_steps.py ecr-password REGISTRY       print a docker login password
python terraform/tools/aws_steps.py image-exists REPOSITORY TAG  exit 0 when the tag is pushed
python terraform/tools/aws_steps.py wait-stable CLUSTER SERVICE...  wait until services are stable
"""

from __future__ import annotations

import base64
import sys

import boto3


def ecr_password(registry: str) -> int:
    account = registry.split(".", 1)[0]
    data = boto3.client("ecr").get_authorization_token(registryIds=[account])["authorizationData"][0]
    print(base64.b64decode(data["authorizationToken"]).decode().split(":", 1)[1])
    return 0


def image_exists(repository: str, tag: str) -> int:
    ecr = boto3.client("ecr")
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return 1
    return 0


def wait_stable(cluster: str, *services: str) -> int:
    waiter = boto3.client("ecs").get_waiter("services_stable")
    print(f"waiting for {', '.join(services)} on {cluster} to be stable (up to 20 minutes)")
    waiter.wait(cluster=cluster, services=list(services), WaiterConfig={"Delay": 15, "MaxAttempts": 80})
    return 0


COMMANDS = {"ecr-password": (ecr_password, 1), "image-exists": (image_exists, 2), "wait-stable": (wait_stable, 2)}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS or len(argv) - 1 < COMMANDS[argv[0]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    command, _ = COMMANDS[argv[0]]
    return command(*argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
