"""The twin stands in for declared RuntimeClasses: without one, the API server's RuntimeClass admission
plugin refuses the GPU pods ("pod rejected: RuntimeClass ... not found")."""

from __future__ import annotations

import pytest

import infra.twin.run as twin_run
from infra.offline.engine import run_program
from tests.conftest import stack_file_with
from tests.test_existing_operators import GPU_POOL, _gpu_local


def _plan():
    raw = _gpu_local(
        gpuPools=[GPU_POOL | {"runtimeClassName": "nvidia"}], prerequisites={"runtimeClasses": ["nvidia"]}
    )
    keys = ("cluster", "gpuPools", "models", "prerequisites")
    return run_program(stack_file_with("local", {f"kiva:{k}": v for k, v in raw.items() if k in keys}))


def test_declared_runtime_class_is_stood_in(twin_env: dict) -> None:
    report = twin_run.twin(_plan(), charts=twin_env["charts"], timeout=150)
    assert (
        "RuntimeClass nvidia: declared prerequisite, installed as a stand-in (handler nvidia)" in report.notes
    )
    assert report.failed_creates == []
    assert report.ok, report.failed_creates + report.unscheduled + report.rejected


def test_without_the_stand_in_the_gpu_pods_are_refused(
    twin_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(twin_run, "_declared_runtime_classes", lambda resources: [])
    report = twin_run.twin(_plan(), charts=twin_env["charts"], timeout=150)
    refused = {p.subject for p in report.failed_creates if 'RuntimeClass "nvidia" not found' in p.message}
    assert refused == {
        "DaemonSet nvidia-device-plugin/nvidia-device-plugin",
        "StatefulSet kiva/kiva-model-qwen-2-5-0-5b",
    }
