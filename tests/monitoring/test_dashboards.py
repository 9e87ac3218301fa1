"""The Grafana dashboards in components/platform/monitoring/dashboards/ and the ConfigMaps that carry them.

Each file must load in Grafana as provisioned (uid, title, current schema, panels with Prometheus targets
on the provisioned datasource uid), leave nothing to fetch or share outside the cluster, and reach
Grafana through a ConfigMap its sidecar picks up and Kubernetes accepts. Which metric names the
expressions may use is the metric contract's test (test_metric_contract.py); here the catalogue module
is held to the dashboards' own names so it cannot drift from them.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config

from components.contracts import DATABASE_CLUSTER_NAME, PLATFORM_NAMESPACE
from components.platform.monitoring import dashboards, metric_catalogue
from components.platform.monitoring.dashboards import (
    CONFIG_MAP_LIMIT_BYTES,
    DASHBOARD_DIR,
    dashboard_config_map_manifests,
    dashboard_config_maps,
)
from infra.offline.engine import STACK_TYPE, RecordingMonitor
from infra.offline.mocks import KivaMocks

from .promql import metric_names, parse, substitute_grafana_variables, variable_query_promql

EXPECTED_FILES = ["database.json", "gateway.json", "gpus.json", "models.json"]
#: Grafana 13.2.0 (grafana chart 12.11.1 appVersion): 42 is the last schema of the v1 dashboard API
#: (grafana apps/dashboard/pkg/migration/schemaversion/README.md, "Migration Beyond v42").
SCHEMA_VERSION = 42
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
NAMESPACE = "kiva-monitoring"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DASHBOARD_DIR / name).read_text(encoding="utf-8"))
    return data


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def exprs(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in panels(dashboard) for target in panel.get("targets", [])]


def test_the_four_dashboards_are_there() -> None:
    assert sorted(p.name for p in dashboards.dashboard_files()) == EXPECTED_FILES


@pytest.mark.parametrize("name", EXPECTED_FILES)
def test_dashboard_is_a_provisionable_grafana_model(name: str) -> None:
    dashboard = load(name)
    assert re.fullmatch(r"kiva-[a-z]+", dashboard["uid"]), dashboard["uid"]
    assert dashboard["title"].startswith("KIVA / ")
    assert dashboard["schemaVersion"] == SCHEMA_VERSION
    assert dashboard["editable"] is False, "provisioned from the repo: edits in the UI would be lost"
    assert "id" not in dashboard, "a provisioned model carries no database id"
    assert dashboard["panels"], f"{name}: no panels"
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids {sorted(ids)}"
    for panel in panels(dashboard):
        where = f"{name} panel {panel['id']} ({panel['title']})"
        assert panel["datasource"] == DATASOURCE, where
        assert panel["targets"], f"{where}: no targets"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), f"{where}: duplicate refIds"
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, where
            assert target["expr"].strip(), f"{where}: empty expr"
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"{where}: wider than the 24-column grid"


def test_dashboard_uids_and_titles_are_unique() -> None:
    models = [load(name) for name in EXPECTED_FILES]
    assert len({d["uid"] for d in models}) == len(models)
    assert len({d["title"] for d in models}) == len(models)


@pytest.mark.parametrize("name", EXPECTED_FILES)
def test_dashboard_links_nowhere_and_shares_nothing(name: str) -> None:
    dashboard = load(name)
    text = (DASHBOARD_DIR / name).read_text(encoding="utf-8")
    assert dashboard["links"] == []
    assert not any(panel.get("links") for panel in panels(dashboard))
    assert "snapshot" not in text.lower(), f"{name}: snapshot data or settings"
    assert not re.search(r"https?://", text), f"{name}: names an external URL"
    assert "gnetId" not in dashboard, f"{name}: imported from grafana.com"


@pytest.mark.parametrize("name", EXPECTED_FILES)
def test_expressions_parse_once_grafana_variables_are_replaced(name: str) -> None:
    dashboard = load(name)
    for expr in exprs(dashboard):
        parse(substitute_grafana_variables(expr))


@pytest.mark.parametrize("name", EXPECTED_FILES)
def test_variables_query_prometheus_and_every_used_variable_is_defined(name: str) -> None:
    dashboard = load(name)
    defined = set()
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"] == DATASOURCE
        promql = variable_query_promql(variable["query"]["query"])
        assert promql is not None
        parse(promql)
        defined.add(variable["name"])
    used = {m for expr in exprs(dashboard) for m in re.findall(r"\$(\w+)", expr) if not m.startswith("__")}
    assert used <= defined, f"{name}: undefined variables {sorted(used - defined)}"


def test_models_dashboard_filters_every_vllm_query_by_the_model_variable() -> None:
    dashboard = load("models.json")
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["model"]
    for expr in exprs(dashboard):
        assert 'model_name=~"$model"' in expr, expr


def test_database_dashboard_selects_the_platforms_cluster() -> None:
    """Static JSON names the cluster: it must be the one components/contracts.py creates."""
    for expr in exprs(load("database.json")):
        assert f'namespace="{PLATFORM_NAMESPACE}"' in expr, expr
        assert DATABASE_CLUSTER_NAME in expr, expr


def test_catalogue_lists_exactly_the_names_the_dashboards_use() -> None:
    used = set()
    for name in EXPECTED_FILES:
        dashboard = load(name)
        queries = exprs(dashboard) + [
            q
            for v in dashboard["templating"]["list"]
            if (q := variable_query_promql(v["query"]["query"])) is not None
        ]
        for expr in queries:
            used |= {ref.name for ref in metric_names(parse(substitute_grafana_variables(expr)))}
    catalogued = set().union(*metric_catalogue.DASHBOARD_METRICS.values())
    assert used == catalogued, (
        f"not catalogued: {sorted(used - catalogued)}; unused: {sorted(catalogued - used)}"
    )
    assert metric_catalogue.DASHBOARD_METRICS.keys() <= metric_catalogue.SOURCES.keys()


def test_catalogue_keeps_the_renamed_vllm_kv_cache_metric_out() -> None:
    assert metric_catalogue.exporter_of("vllm:kv_cache_usage_perc") == "vllm"
    assert metric_catalogue.exporter_of("vllm:gpu_cache_usage_perc") is None


# -- the ConfigMaps ------------------------------------------------------------------------------------


def test_one_config_map_per_dashboard_with_the_sidecar_label() -> None:
    manifests = dashboard_config_map_manifests(NAMESPACE)
    assert [m["metadata"]["name"] for m in manifests] == [
        "kiva-dashboard-database",
        "kiva-dashboard-gateway",
        "kiva-dashboard-gpus",
        "kiva-dashboard-models",
    ]
    for manifest, name in zip(manifests, EXPECTED_FILES, strict=True):
        assert manifest["metadata"]["namespace"] == NAMESPACE
        assert manifest["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert list(manifest["data"]) == [name]
        assert json.loads(manifest["data"][name]) == load(name)


def test_config_maps_fit_the_kubernetes_size_limit() -> None:
    assert CONFIG_MAP_LIMIT_BYTES == 1_048_576
    for manifest in dashboard_config_map_manifests(NAMESPACE):
        size = sum(len(k.encode()) + len(v.encode()) for k, v in manifest["data"].items())
        # Leave room: a dashboard near the limit would break on the next panel.
        assert size < CONFIG_MAP_LIMIT_BYTES // 4, f"{manifest['metadata']['name']}: {size} bytes"


def test_a_malformed_dashboard_names_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken.json").write_text('{"uid": "kiva-broken",', encoding="utf-8")
    monkeypatch.setattr(dashboards, "DASHBOARD_DIR", tmp_path)
    with pytest.raises(ValueError, match=r"^broken\.json: not valid JSON \(Expecting property name"):
        dashboard_config_map_manifests(NAMESPACE)


def test_config_maps_are_registered_as_typed_resources() -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        runtime_settings.ROOT.set(None)
        set_all_config({}, [])
        monitor = RecordingMonitor(KivaMocks())
        pulumi.runtime.set_mocks(monitor.mocks, project="kiva", stack="dash", preview=False, monitor=monitor)
        pulumi.runtime.test(lambda: dashboard_config_maps(NAMESPACE, pulumi.ResourceOptions()))()
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        runtime_settings.ROOT.set(None)
    # Registration order follows the engine's scheduling, not the call order.
    maps = sorted((r for r in monitor.registrations if r.type != STACK_TYPE), key=lambda r: r.name)
    assert [(r.type, r.name) for r in maps] == [
        ("kubernetes:core/v1:ConfigMap", f"kiva-dashboard-{Path(n).stem}") for n in EXPECTED_FILES
    ]
    gateway = maps[1].inputs
    assert gateway["metadata"]["namespace"] == NAMESPACE
    assert gateway["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(gateway["data"]["gateway.json"])["uid"] == "kiva-gateway"
