"""Upload the DAG folder to a deployment's S3 DAG bundle, sending only what changed.

    python terraform/tools/sync_dags.py --bucket BUCKET [--prefix dags] [--source dags] [--dry-run]

A file is sent when it is new or its SHA-256 differs from the one stored with the object (metadata
`sha256`); objects under the prefix with no local file are deleted. Airflow's S3DagBundle picks the
changes up within its refresh interval. Credentials, region and endpoint come from the usual AWS
settings (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}


@dataclass
class Plan:
    upload: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def local_files(source: Path) -> dict[str, Path]:
    """Relative POSIX path -> file, without caches and compiled files."""
    files = {}
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_file() and not SKIP_DIRS & set(rel.parts) and path.suffix not in SKIP_SUFFIXES:
            files[rel.as_posix()] = path
    return files


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def remote_objects(s3: Any, bucket: str, prefix: str) -> dict[str, int]:
    """Key relative to the prefix -> size."""
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for obj in page.get("Contents", []):
            objects[obj["Key"][len(prefix) + 1 :]] = obj["Size"]
    return objects


def plan(s3: Any, bucket: str, prefix: str, files: dict[str, Path]) -> Plan:
    remote = remote_objects(s3, bucket, prefix)
    result = Plan(delete=sorted(set(remote) - set(files)))
    for rel, path in files.items():
        if rel in remote and remote[rel] == path.stat().st_size:
            stored = s3.head_object(Bucket=bucket, Key=f"{prefix}/{rel}").get("Metadata", {}).get("sha256")
            if stored == sha256(path):
                result.unchanged.append(rel)
                continue
        result.upload.append(rel)
    return result


def sync(s3: Any, bucket: str, prefix: str, source: Path, dry_run: bool = False) -> Plan:
    files = local_files(source)
    if not files:
        raise SystemExit(f"{source} holds no files: is it the DAG folder?")
    todo = plan(s3, bucket, prefix, files)
    for rel in todo.upload:
        print(f"upload  s3://{bucket}/{prefix}/{rel}")
        if not dry_run:
            s3.upload_file(
                str(files[rel]), bucket, f"{prefix}/{rel}", ExtraArgs={"Metadata": {"sha256": sha256(files[rel])}}
            )
    for rel in todo.delete:
        print(f"delete  s3://{bucket}/{prefix}/{rel}")
        if not dry_run:
            s3.delete_object(Bucket=bucket, Key=f"{prefix}/{rel}")
    verb = "would upload" if dry_run else "uploaded"
    print(f"{verb} {len(todo.upload)}, deleted {len(todo.delete)}, unchanged {len(todo.unchanged)}")
    return todo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", required=True, help="the DAG bucket (terraform output dag_bucket)")
    parser.add_argument("--prefix", default="dags", help="key prefix of the bundle (terraform output dag_prefix)")
    parser.add_argument("--source", type=Path, default=Path("dags"), help="the local DAG folder")
    parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    args = parser.parse_args(argv)

    import boto3

    sync(boto3.client("s3"), args.bucket, args.prefix.strip("/"), args.source, args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
