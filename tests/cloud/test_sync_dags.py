"""make sync-dags: only changed DAG files travel to the S3 bundle; removed ones disappear from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sync_dags

BUCKET = "sync-dags-test"


@pytest.fixture
def s3(aws) -> Iterator:
    client = aws("s3")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def keys(s3) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_only_changes_are_shipped(s3, tmp_path: Path) -> None:
    sync = sync_dags.sync
    dags = tmp_path / "dags"
    (dags / "baton" / "__pycache__").mkdir(parents=True)
    (dags / "cycle.py").write_text('"""Airflow DAG: cycle"""\n')
    (dags / "baton" / "runners.py").write_text("RUNNER = 'ecs'\n")
    (dags / "baton" / "__pycache__" / "runners.cpython-311.pyc").write_bytes(b"\0")

    first = sync(s3, BUCKET, "dags", dags)
    assert sorted(first.upload) == ["baton/runners.py", "cycle.py"]
    assert keys(s3) == {"dags/baton/runners.py", "dags/cycle.py"}

    again = sync(s3, BUCKET, "dags", dags)
    assert again.upload == [] and again.delete == [] and sorted(again.unchanged) == ["baton/runners.py", "cycle.py"]

    # Same size, other content: compared by checksum, not size.
    (dags / "baton" / "runners.py").write_text("RUNNER = 'dkr'\n")
    (dags / "cycle.py").unlink()
    (dags / "ingestion.py").write_text('"""Airflow DAG: ingestion"""\n')
    changed = sync(s3, BUCKET, "dags", dags)
    assert sorted(changed.upload) == ["baton/runners.py", "ingestion.py"]
    assert changed.delete == ["cycle.py"]
    assert keys(s3) == {"dags/baton/runners.py", "dags/ingestion.py"}
    body = s3.get_object(Bucket=BUCKET, Key="dags/baton/runners.py")["Body"].read()
    assert body == b"RUNNER = 'dkr'\n"

    dry = sync(s3, BUCKET, "dags", dags, dry_run=True)
    assert dry.upload == [] and dry.delete == []


def test_dry_run_changes_nothing(s3, tmp_path: Path) -> None:
    (tmp_path / "cycle.py").write_text("x = 1\n")
    plan = sync_dags.sync(s3, BUCKET, "dags", tmp_path, dry_run=True)
    assert plan.upload == ["cycle.py"]
    assert keys(s3) == set()


def test_an_empty_source_is_refused(s3, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="holds no files"):
        sync_dags.sync(s3, BUCKET, "dags", tmp_path)
