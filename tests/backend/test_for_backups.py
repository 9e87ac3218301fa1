"""`kiva backend … --for-backups STACK`: the database backup bucket of an `existing`-cluster stack."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config

from tests.backend.conftest import run

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: dict[str, Any] | None) -> None:
    """A project directory with a copy of the `local` stack whose object store is `store`."""
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.local.yaml").read_text(encoding="utf-8"))
    backups = document["config"]["kiva:backups"]
    if store is None:
        backups.pop("objectStore", None)
    else:
        backups["objectStore"] = store
    document["config"]["kiva:retention"]["backupDays"] = 14
    (tmp_path / "Pulumi.backup.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    monkeypatch.chdir(tmp_path)


def test_backup_bucket_follows_the_stack_retention(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = "kiva-backups-" + tmp_path.name.lower().replace("_", "-")[-20:].strip("-")
    _project(tmp_path, monkeypatch, {"endpoint": f"http://{moto_server}", "bucket": bucket,
                                     "region": "eu-de", "path": "local"})  # fmt: skip
    result = run("bootstrap", "--for-backups", "backup")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"backups of stack backup: bucket {bucket} at http://{moto_server} (eu-de)"
    )
    s3 = boto3.client("s3", endpoint_url=f"http://{moto_server}", region_name="eu-de",
                      config=Config(s3={"addressing_style": "path"}))  # fmt: skip
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 14
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    assert run("verify", "--for-backups", "backup").exit_code == 0
    again = run("bootstrap", "--for-backups", "backup")
    assert "already compliant; nothing changed" in again.stdout
    # A changed retention in the stack is drift of the bucket's lifecycle.
    document = yaml.safe_load((tmp_path / "Pulumi.backup.yaml").read_text(encoding="utf-8"))
    document["config"]["kiva:retention"]["backupDays"] = 30
    (tmp_path / "Pulumi.backup.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    stale = run("verify", "--for-backups", "backup")
    assert stale.exit_code == 1
    assert "required: noncurrent versions expire after 30 days" in stale.stdout
    assert "repaired lifecycle" in run("bootstrap", "--for-backups", "backup").stdout


def test_backup_bucket_outside_the_eu_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path, monkeypatch, {"endpoint": "http://127.0.0.1:1", "bucket": "kiva-backups",
                                     "region": "us-west-2", "path": "x"})  # fmt: skip
    result = run("bootstrap", "--for-backups", "backup")
    assert result.exit_code == 2
    # The stack file itself is refused (kiva:backups.objectStore.region), before any bucket call.
    assert "kiva:backups.objectStore.region: 'us-west-2' is in US, not an EU/EEA" in result.stderr


@pytest.mark.parametrize(
    ("stack", "store", "fragment"),
    [
        ("missing", None, "Pulumi.missing.yaml: no such stack file"),
        ("backup", None, "kiva:backups.objectStore"),
    ],
)
def test_bad_stack_exits_2_on_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stack: str, store: Any, fragment: str
) -> None:
    _project(tmp_path, monkeypatch, store)
    result = run("verify", "--for-backups", stack)
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert result.stderr.count("\n") == 1


def test_url_and_stack_are_exclusive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path, monkeypatch, None)
    result = run("bootstrap", "s3://kiva-state?region=eu-central-1", "--for-backups", "backup")
    assert result.exit_code == 2
    assert "exactly one" in result.stderr
