"""The plan's Helm releases rendered with Helm's own code from the chart cache, as `kiva twin` applies them.

These need the chart cache (`KIVA_CHARTS_DIR`, else `../shared/charts` next to the repository) but no
control plane and no network: a repository that must be reached is served on loopback.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
from pulumi.output import Unknown

from infra.twin.charts import (
    INSTALL_ORDER,
    REPO_CHARTS,
    ChartNotCached,
    ReleaseRenderError,
    RenderedRelease,
    chart_folder,
    pull_chart,
    render_release,
)
from tests.conftest import PROJECT_DIR, STACKS, _committed_plan

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
SPOT_TOLERATION = {
    "key": "kubernetes.azure.com/scalesetpriority",
    "operator": "Equal",
    "value": "spot",
    "effect": "NoSchedule",
}


@pytest.fixture(scope="module")
def charts_dir() -> Path:
    folder = Path(os.environ.get("KIVA_CHARTS_DIR") or PROJECT_DIR.parent / "shared" / "charts")
    if not folder.is_dir():
        pytest.skip(f"no Helm chart cache at {folder}: set KIVA_CHARTS_DIR to a folder of unpacked charts")
    return folder


def releases(stack: str) -> dict[str, dict[str, Any]]:
    """The inputs of each Helm release of a committed stack, by release name (a copy: safe to change)."""
    return {
        r.inputs["name"]: _copy(r.inputs) for r in _committed_plan(stack).resources if r.type == RELEASE_TYPE
    }


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


@functools.cache
def _rendered(stack: str, release: str, charts_dir: Path) -> RenderedRelease:
    return render_release(releases(stack)[release], [charts_dir, REPO_CHARTS])  # as `kiva twin` searches


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} objects"
    return matches[0]


def crd_names(rendered: RenderedRelease) -> set[str]:
    return {crd["metadata"]["name"] for crd in rendered.crds}


@pytest.mark.parametrize("stack", STACKS)
def test_every_release_of_the_committed_plans_renders_in_helm_install_order(
    stack: str, charts_dir: Path
) -> None:
    planned = releases(stack)
    assert planned, f"{stack} plans no Helm release"
    for name, props in planned.items():
        rendered = _rendered(stack, name, charts_dir)
        assert (rendered.release, rendered.namespace, rendered.version) == (
            props["name"],
            props["namespace"],
            props["version"],
        )
        assert rendered.objects, f"{name} rendered no object"
        ranks = [
            INSTALL_ORDER.index(o["kind"]) if o["kind"] in INSTALL_ORDER else len(INSTALL_ORDER)
            for o in rendered.objects
        ]
        assert ranks == sorted(ranks), f"{name}: objects not in Helm's install order"
        for obj in rendered.objects:
            assert obj["kind"] != "CustomResourceDefinition", f"{name}: a CRD among the objects"
            assert "helm.sh/hook" not in (obj["metadata"].get("annotations") or {}), (
                f"{name}: a hook among the objects"
            )
            assert obj["metadata"].get("name"), f"{name}: {obj['kind']} without a name"
        assert all(crd["kind"] == "CustomResourceDefinition" for crd in rendered.crds)


def test_device_plugin_tolerates_the_spot_taint_and_keeps_only_our_gpu_pool_affinity(
    charts_dir: Path,
) -> None:
    """Day-one defect 4: the values replace the chart's tolerations, so the spot one must be among ours."""
    rendered = _rendered("dev", "nvidia-device-plugin", charts_dir)
    daemonset = named(rendered.objects, "DaemonSet", "nvidia-device-plugin")
    pod = daemonset["spec"]["template"]["spec"]
    assert SPOT_TOLERATION in pod["tolerations"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms == [
        {"matchExpressions": [{"key": "kiva.platform/gpu-pool", "operator": "In", "values": ["t4"]}]}
    ]
    assert pod["priorityClassName"] == "system-node-critical"


def test_device_plugin_without_our_values_would_miss_the_spot_pool(charts_dir: Path) -> None:
    """The assertion above is about our values: the chart's defaults tolerate no spot taint."""
    props = releases("dev")["nvidia-device-plugin"]
    props["values"] = {}
    daemonset = named(render_release(props, charts_dir).objects, "DaemonSet", "nvidia-device-plugin")
    assert SPOT_TOLERATION not in daemonset["spec"]["template"]["spec"].get("tolerations", [])


@pytest.mark.parametrize("stack", STACKS)
def test_cloudnative_pg_renders_its_crds_and_the_barman_plugin_its_object_store(
    stack: str, charts_dir: Path
) -> None:
    operator = _rendered(stack, "cloudnative-pg", charts_dir)
    assert {
        "clusters.postgresql.cnpg.io",
        "poolers.postgresql.cnpg.io",
        "scheduledbackups.postgresql.cnpg.io",
    } <= crd_names(operator)
    assert crd_names(_rendered(stack, "barman-cloud", charts_dir)) == {"objectstores.barmancloud.cnpg.io"}


def test_cloudnative_pg_crds_come_from_crds_create(charts_dir: Path) -> None:
    props = releases("dev")["cloudnative-pg"]
    props["values"]["crds"] = {"create": False}
    assert render_release(props, charts_dir).crds == []


def test_cert_manager_renders_its_crds_only_with_crds_enabled(charts_dir: Path) -> None:
    assert "certificates.cert-manager.io" in crd_names(_rendered("prod", "cert-manager", charts_dir))
    props = releases("prod")["cert-manager"]
    del props["values"]["crds"]
    assert render_release(props, charts_dir).crds == []


def test_gpu_operator_crds_come_from_its_crds_folders_first(charts_dir: Path) -> None:
    rendered = _rendered("prod", "gpu-operator", charts_dir)
    assert crd_names(rendered) >= {
        "clusterpolicies.nvidia.com",
        "nvidiadrivers.nvidia.com",
        "nodefeaturerules.nfd.k8s-sigs.io",
    }
    assert rendered.objects[-1]["kind"] == "ClusterPolicy", "kinds Helm does not know are installed last"


def test_gpu_operator_disabled_subchart_contributes_no_crds_and_skip_crds_drops_the_folders(
    charts_dir: Path,
) -> None:
    props = releases("prod")["gpu-operator"]
    props["values"]["nfd"] = {"enabled": False}
    assert not any(name.endswith(".nfd.k8s-sigs.io") for name in crd_names(render_release(props, charts_dir)))
    props["skipCrds"] = True
    assert render_release(props, charts_dir).crds == []


def test_a_value_of_the_wrong_type_fails_like_helm_install(charts_dir: Path) -> None:
    props = releases("prod")["cert-manager"]
    props["values"]["replicaCount"] = "two"  # values.schema.json: number
    with pytest.raises(ReleaseRenderError) as failure:
        render_release(props, charts_dir)
    message = str(failure.value)
    assert "'cert-manager'" in message and "v1.21.1" in message
    assert "/replicaCount" in message and "want number" in message


def test_hooks_are_set_apart_from_the_objects(charts_dir: Path) -> None:
    rendered = _rendered("prod", "cert-manager", charts_dir)
    job = named(rendered.hooks, "Job", "cert-manager-startupapicheck")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install"
    assert all("helm.sh/hook" in hook["metadata"]["annotations"] for hook in rendered.hooks)
    assert not [o for o in rendered.objects if o["kind"] == "Job"]
    assert {h["kind"] for h in _rendered("prod", "gpu-operator", charts_dir).hooks} == {
        "Job",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
    }


def test_namespaced_objects_without_a_namespace_are_left_to_the_applier(charts_dir: Path) -> None:
    rendered = _rendered("prod", "gpu-operator", charts_dir)
    assert "namespace" not in named(rendered.objects, "Deployment", "gpu-operator")["metadata"]
    assert (
        named(rendered.objects, "Deployment", "gpu-operator-node-feature-discovery-master")["metadata"][
            "namespace"
        ]
        == "gpu-operator"
    )


def test_secret_values_reach_helm_unwrapped_and_engine_doubles_as_integers(charts_dir: Path) -> None:
    props = releases("prod")["cert-manager"]
    props["values"]["replicaCount"] = {**SECRET_SIG, "value": 3.0}
    deployment = named(render_release(props, charts_dir).objects, "Deployment", "cert-manager")
    assert deployment["spec"]["replicas"] == 3 and isinstance(deployment["spec"]["replicas"], int)


def test_a_value_unknown_before_deployment_is_an_error(charts_dir: Path) -> None:
    props = releases("prod")["cert-manager"]
    props["values"]["podLabels"] = {"team": Unknown()}
    with pytest.raises(ReleaseRenderError, match=r"values\.podLabels\.team is only known after deployment"):
        render_release(props, charts_dir)


def test_an_uncached_chart_version_raises_chart_not_cached_naming_the_folder(charts_dir: Path) -> None:
    props = releases("dev")["cert-manager"]
    props["version"] = "v0.0.1"
    with pytest.raises(ChartNotCached) as failure:
        render_release(props, charts_dir)
    assert str(charts_dir / "cert-manager-v0.0.1") in str(failure.value)
    assert "pull_chart" in str(failure.value)


def test_pull_chart_returns_a_cached_chart_without_asking_the_repository(charts_dir: Path) -> None:
    folder = pull_chart(charts_dir, "cert-manager", "v1.21.1", "http://127.0.0.1:9/unreachable")
    assert folder == chart_folder(charts_dir, "cert-manager", "v1.21.1")


def test_pull_chart_from_an_unreachable_repository_leaves_the_cache_unchanged(tmp_path: Path) -> None:
    with pytest.raises(
        ChartNotCached, match=r"could not be pulled from http://127\.0\.0\.1:9/charts: .*refused"
    ):
        pull_chart(tmp_path, "cert-manager", "v1.21.1", "http://127.0.0.1:9/charts")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def loopback_repository(tmp_path: Path, charts_dir: Path) -> Iterator[str]:
    """A Helm repository on 127.0.0.1 holding the device plugin chart, packaged by Helm from the cache.

    Helm's pull keeps the repository index in its cache (`HELM_CACHE_HOME`, read once when the native
    library loads, so it cannot be redirected here) and deletes it afterwards, as `helm pull --repo` does.
    """
    served = tmp_path / "repository"
    served.mkdir()
    helm.package(charts_dir / "nvidia-device-plugin-0.18.0", destination=served)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    helm.repo_index_generate(served, base_url=url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def test_pull_chart_unpacks_the_pinned_version_into_the_cache_layout(
    tmp_path: Path, loopback_repository: str
) -> None:
    cache = tmp_path / "cache"
    folder = pull_chart(cache, "nvidia-device-plugin", "0.18.0", loopback_repository)
    assert folder == cache / "nvidia-device-plugin-0.18.0"
    assert [p.name for p in cache.iterdir()] == ["nvidia-device-plugin-0.18.0"], (
        "no scratch folder left behind"
    )
    rendered = render_release(releases("dev")["nvidia-device-plugin"], cache)
    assert {o["kind"] for o in rendered.objects} == {"DaemonSet"}


def test_rendering_every_prod_release_is_timed(charts_dir: Path) -> None:
    """Not a timed assertion: prints the figure for the twin's benchmark (`pytest -s` shows it)."""
    planned = releases("prod")
    started = time.perf_counter()
    rendered = [render_release(props, [charts_dir, REPO_CHARTS]) for props in planned.values()]
    elapsed = time.perf_counter() - started
    total = sum(len(r.crds) + len(r.objects) + len(r.hooks) for r in rendered)
    print(f"\nrendered {len(rendered)} prod releases ({total} objects) in {elapsed:.2f} s")
    assert len(rendered) == len(planned)
