"""`kiva:monitoring.logs` reaches the plan: the external backend's Grafana datasource and, on AKS
application routing, the anonymised log format of the add-on's NGINX, after the monitoring release."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from typing import Any

from kiva_policies.exceptions import load_exceptions
from kiva_policies.pack import POLICIES
from kiva_policies.runner import (
    EXCEPTIONS_DIR,
    PlannedResource,
    apply_exceptions,
    load_policy_config,
    run_pack,
)

from infra.offline.digest import preview_digest
from infra.offline.engine import run_program
from infra.offline.preview_file import planned_resources
from tests.conftest import stack_config, stack_file_with

LOGS = {"backend": "external", "url": "https://logs.example.de", "retentionDays": 30, "anonymiseIps": True}


@cache
def _prod_with_logs() -> tuple[PlannedResource, ...]:
    monitoring = {**stack_config("prod")["kiva:monitoring"], "logs": LOGS}
    plan = run_program(stack_file_with("prod", {"kiva:monitoring": monitoring}))
    return tuple(planned_resources(preview_digest(plan)))


def _one(kind: str, name: str) -> PlannedResource:
    (found,) = [r for r in _prod_with_logs() if r.type == kind and r.name.endswith(name)]
    return found


def _depends_on(resource: PlannedResource) -> list[str]:
    return [urn.rsplit("::", 1)[-1] for urn in (resource.options or {}).get("dependsOn", [])]


def test_the_external_backend_is_a_grafana_datasource_after_the_monitoring_release() -> None:
    config_map = _one("kubernetes:core/v1:ConfigMap", "logs-datasource")
    props: dict[str, Any] = config_map.props
    assert props["metadata"]["namespace"] == "kiva-monitoring"
    assert props["metadata"]["labels"]["grafana_datasource"] == "1"  # the Grafana sidecar's label
    (source,) = json.loads(json.dumps(props["data"])).values()
    assert "https://logs.example.de" in source


def test_the_app_routing_nginx_logs_no_client_address() -> None:
    patch = _one(
        "kubernetes:approuting.kubernetes.azure.com/v1alpha1:NginxIngressControllerPatch", "log-format"
    )
    log_format = patch.props["spec"]["logFormat"]
    assert "remote_addr" not in log_format and "x_forwarded_for" not in log_format


def test_prod_with_logs_passes_the_policy_pack() -> None:
    config, _ = load_policy_config("prod", None)
    # prod's reviewed exceptions (images not yet pinned by digest) apply, on a day they are in force
    exceptions = load_exceptions(EXCEPTIONS_DIR / "prod.yaml", date(2026, 11, 27), {p.name for p in POLICIES})
    report = apply_exceptions(run_pack(list(_prod_with_logs()), config), exceptions)
    assert [f.message for f in report.mandatory_violations] == []
