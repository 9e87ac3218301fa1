"""The installed `kiva` console script, as a user runs it: real process, real exit codes, real stderr."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from tests.backend.conftest import ACCESS_KEY, SECRET_KEY

KIVA = shutil.which("kiva", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(KIVA is None, reason="the kiva console script is not installed")


def _kiva(*args: str) -> subprocess.CompletedProcess[str]:
    assert KIVA is not None
    done = subprocess.run([KIVA, "backend", *args], capture_output=True, text=True, env=dict(os.environ),
                          timeout=120, check=False)  # fmt: skip
    for stream in (done.stdout, done.stderr):
        assert "Traceback" not in stream
        assert SECRET_KEY not in stream and ACCESS_KEY not in stream
    return done


def test_bootstrap_verify_and_refusals_through_the_console_script(moto_server: str, free_port: int) -> None:
    bucket = f"kiva-state-{uuid.uuid4().hex[:12]}"
    url = f"s3://{bucket}?endpoint={moto_server}&disableSSL=true&s3ForcePathStyle=true&region=eu-central-1"
    assert _kiva("bootstrap", url).returncode == 0
    again = _kiva("bootstrap", url)
    assert again.returncode == 0 and "already compliant" in again.stdout
    assert _kiva("verify", url).returncode == 0

    refused = _kiva("bootstrap", url.replace("eu-central-1", "us-east-1").replace(bucket, bucket + "-us"))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "us-east-1" in refused.stderr
    s3 = boto3.client("s3", endpoint_url=f"http://{moto_server}", region_name="eu-central-1")
    assert bucket + "-us" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}

    nonsense = _kiva("bootstrap", "s4:/nonsense")
    assert nonsense.returncode == 2 and nonsense.stderr.startswith("error: not an s3:// URL")

    unreachable = _kiva("verify", url.replace(moto_server, f"127.0.0.1:{free_port}"))
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr
