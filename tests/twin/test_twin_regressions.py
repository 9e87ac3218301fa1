"""Defects Kubernetes itself must catch: each makes the twin fail with the API server's or scheduler's reason.

- The missing GPU toleration is re-introduced in the component (`model_server.gpu_tolerations`) and run
  through `kiva twin` (exit 1).
- The others are object-level defects no stack setting produces; they are re-introduced by mutating the
  objects handed to the applier (`twin(mutate=...)`), all five in one control plane run on the `dev` plan,
  since they touch independent objects. Each must appear with Kubernetes' own words.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

import components.platform.model_server as model_server
from infra.cli import main
from infra.twin.apply import Item, Unit
from infra.twin.report import TwinReport
from infra.twin.run import twin
from tests.conftest import PROJECT_DIR, _committed_plan

pytestmark = pytest.mark.twin


def test_model_server_without_gpu_toleration(twin_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_server, "gpu_tolerations", lambda pool: [])
    result = CliRunner().invoke(main, ["twin", "dev", "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 1, result.output
    assert "Pods left unscheduled" in result.output
    assert "kiva-model-llama-3-2-3b" in result.output
    assert "untolerated taint" in result.output


def _find(units: list[Unit], kind: str, name: str) -> dict[str, Any]:
    return next(
        i.obj
        for u in units
        for i in u.items
        if i.obj.get("kind") == kind and i.obj["metadata"]["name"] == name
    )


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]


def _defects(units: list[Unit]) -> None:
    # 1. a GPU request larger than any node of the pool (NC4as_T4_v3: 1 GPU)
    model = _find(units, "StatefulSet", "kiva-model-llama-3-2-3b")
    for section in ("requests", "limits"):
        _containers(model)[0]["resources"].setdefault(section, {})["nvidia.com/gpu"] = "4"
    # 2. an invalid label value
    _find(units, "ConfigMap", "kiva-gateway-config")["metadata"]["labels"]["kiva.platform/bad"] = (
        "not a valid value!"
    )
    # 3. an unknown field in a custom resource
    _find(units, "Cluster", "kiva-db")["spec"]["instancez"] = 3
    # 4. a custom resource whose CRD nothing installs (dev installs the Prometheus Operator's CRDs itself)
    units.append(
        Unit(
            "test:widget",
            [
                Item(
                    {
                        "apiVersion": "example.kiva.de/v1",
                        "kind": "Widget",
                        "metadata": {"name": "kiva-gateway", "namespace": "kiva"},
                        "spec": {"selector": {}},
                    },
                    "plan",
                )
            ],
        )
    )
    # 5. a privileged container in a restricted namespace
    gateway = _find(units, "Deployment", "kiva-gateway")
    _containers(gateway)[0]["securityContext"] = {"privileged": True}


@pytest.fixture(scope="module")
def defective() -> TwinReport:
    import os
    from pathlib import Path

    tools, charts = os.environ.get("KIVA_K8S_TOOLS"), os.environ.get("KIVA_CHARTS_DIR")
    if not tools or not charts or not Path(tools, "up").is_file() or not Path(charts).is_dir():
        pytest.skip("KIVA_K8S_TOOLS / KIVA_CHARTS_DIR not set: no control plane or chart cache for the twin")
    return twin(_committed_plan("dev"), charts=Path(charts), mutate=_defects)


def _messages(problems: list[Any]) -> str:
    return "\n".join(f"{p.subject}: {p.message}" for p in problems)


def test_defects_fail_the_twin(defective: TwinReport) -> None:
    assert not defective.ok


def test_gpu_request_larger_than_the_pool(defective: TwinReport) -> None:
    text = _messages(defective.unscheduled)
    assert "kiva-model-llama-3-2-3b-0" in text
    assert "Insufficient nvidia.com/gpu" in text


def test_invalid_label_value(defective: TwinReport) -> None:
    text = _messages(defective.rejected)
    assert "ConfigMap kiva/kiva-gateway-config" in text
    assert "metadata.labels: Invalid value" in text


def test_unknown_field_in_custom_resource(defective: TwinReport) -> None:
    text = _messages(defective.rejected)
    assert "Cluster kiva/kiva-db" in text
    assert ".spec.instancez: field not declared in schema" in text


def test_custom_resource_without_crd(defective: TwinReport) -> None:
    text = _messages(defective.missing_prerequisites)
    assert "Widget kiva/kiva-gateway" in text
    assert "example.kiva.de/v1" in text


def test_privileged_container_in_restricted_namespace(defective: TwinReport) -> None:
    warning = _messages(defective.pod_security_errors)
    assert "Deployment kiva/kiva-gateway" in warning
    assert 'violate PodSecurity "restricted:latest": privileged' in warning
    created = _messages(defective.failed_creates)
    assert "kiva-gateway" in created
    assert "forbidden: violates PodSecurity" in created


def test_defects_settle_before_the_timeout(defective: TwinReport) -> None:
    """A Deployment whose ReplicaSet cannot create pods is decided, not waited for until the timeout."""
    assert not defective.unsettled
    assert defective.timings["settle"] < 60
