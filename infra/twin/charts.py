"""Render the plan's Helm releases into the objects `helm install` would send, with Helm's own code.

Every `kubernetes:helm.sh/v3:Release` of a plan is rendered from a local chart cache
(`<charts_dir>/<chart>-<version>`, the unpacked published archive) through helm-python-sdk, which
binds Helm's Go SDK: Helm merges the release's values over the chart's defaults, evaluates subchart
conditions and aliases, validates the merged values against `values.schema.json`, and renders the
templates as an install (revision 1). What Helm does after rendering is repeated here after
Helm v4 (`pkg/release/v1/util`): partials and `NOTES.txt` are dropped, files are split at `---`,
objects with a `helm.sh/hook` annotation are set apart, and the rest is sorted by kind in
`InstallOrder`.

Offline rendering cannot see a cluster, so two things can differ from a real install:
`.Capabilities` reports Helm's default Kubernetes version and only the built-in API groups (a
template that checks for `monitoring.coreos.com/v1` takes its "absent" branch even when an earlier
release installs that CRD), and `lookup` finds nothing. The chart's `kubeVersion` constraint is not
checked.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pulumi
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN, _special_secret_sig, _special_sig_key

#: Helm v4's install order by kind (`pkg/release/v1/util/kind_sorter.go`, `InstallOrder`).
INSTALL_ORDER = (
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
)
_RANK = {kind: rank for rank, kind in enumerate(INSTALL_ORDER)}

#: Helm's document separator (`pkg/release/v1/util/manifest.go`); Go's `\s` is ASCII whitespace only.
_SEPARATOR = re.compile(r"(?:^|[\t\n\f\r ]*\n)---[\t\n\f\r ]*")
HOOK_ANNOTATION = "helm.sh/hook"


class ChartError(Exception):
    """A release that cannot be rendered: the message names the release or chart and what to do."""


class ChartNotCached(ChartError):
    """The pinned chart version is not in the chart cache."""


class ReleaseRenderError(ChartError):
    """Helm refused the release: values that fail the chart's schema, a template error, a bad object."""


@dataclass(frozen=True)
class RenderedRelease:
    """What one `helm install` would create, split the way Helm applies it."""

    release: str
    namespace: str
    chart: str
    version: str
    crds: list[dict[str, Any]]
    """CRDs of the `crds/` folders (chart first, then enabled subcharts; Helm installs these before
    rendering, and `skipCrds` leaves them out), then CRDs rendered from templates, in install order."""
    objects: list[dict[str, Any]]
    """Every other non-hook object in Helm's install order. Namespaced objects without
    `metadata.namespace` keep none: Helm (and the applier) put them in the release namespace, which
    needs API discovery to know which kinds are namespaced."""
    hooks: list[dict[str, Any]]
    """Objects annotated `helm.sh/hook`: Helm runs them at their phase, never as part of the release."""


#: The charts vendored in this repository (`charts/<chart>-<version>`, provenance in charts/README.md).
REPO_CHARTS = Path(__file__).resolve().parents[2] / "charts"

#: Where to look for charts: one folder, or several searched in order.
ChartDirs = Path | Sequence[Path]


def _search_path(charts_dir: ChartDirs) -> list[Path]:
    return [charts_dir] if isinstance(charts_dir, Path) else list(charts_dir)


def chart_folder(charts_dir: ChartDirs, chart: str, version: str) -> Path:
    """The first `<dir>/<chart>-<version>` holding a Chart.yaml; `ChartNotCached` (naming each folder) if none."""
    folders = [folder / f"{chart}-{version}" for folder in _search_path(charts_dir)]
    for folder in folders:
        if (folder / "Chart.yaml").is_file():
            return folder
    missing = ", ".join(f"{folder}/Chart.yaml" for folder in folders) or "no chart folder given"
    raise ChartNotCached(
        f"chart {chart} {version} is not in the chart cache: no {missing}. Fill the cache "
        f"with pull_chart() (online), or unpack the published chart archive into that folder."
    )


def pull_chart(charts_dir: Path, chart: str, version: str, repository: str) -> Path:
    """Download the pinned chart into the cache with Helm's own pull and return its folder.

    An already cached version is returned without network access. `repository` is a Helm repository
    URL or an `oci://` registry path, as in the release's `repositoryOpts.repo`. The chart is
    unpacked in a scratch folder inside the cache and moved into place only when its `Chart.yaml`
    carries the pinned name and version, so an interrupted pull leaves no half-filled folder.
    """
    try:
        return chart_folder(charts_dir, chart, version)
    except ChartNotCached:
        pass
    charts_dir.mkdir(parents=True, exist_ok=True)
    if repository.startswith("oci://"):
        reference, repo_url = f"{repository.rstrip('/')}/{chart}", None
    else:
        reference, repo_url = chart, repository
    with tempfile.TemporaryDirectory(prefix=".pull-", dir=charts_dir) as scratch:
        try:
            helm.pull(
                reference,
                repo_url=repo_url,
                version=version,
                destination=scratch,
                untar=True,
                untar_dir=scratch,
            )
        except helm.HelmError as error:
            raise ChartNotCached(
                f"chart {chart} {version} is not in the chart cache ({charts_dir}) and could not be pulled "
                f"from {repository}: {error.detail}"
            ) from error
        unpacked = Path(scratch) / chart
        with helm.Chart.load(unpacked) as loaded:
            found = (loaded.name, loaded.version)
        if found != (chart, version):
            raise ChartNotCached(
                f"pulling chart {chart} {version} from {repository} gave {found[0]} {found[1]}; the cache is unchanged"
            )
        folder = charts_dir / f"{chart}-{version}"
        unpacked.rename(folder)
    return folder


def render_release(props: Mapping[str, Any], charts_dir: ChartDirs) -> RenderedRelease:
    """Render one release from the inputs of its `kubernetes:helm.sh/v3:Release` (camelCase, as planned).

    Values are what the Pulumi provider hands Helm: `valueYamlFiles` merged in order, `values` over
    them, secrets unwrapped. Helm merges them over the chart's defaults and validates the result
    against the chart's schema, so values that `helm install` rejects raise `ReleaseRenderError`.
    `charts_dir` is one folder or several, searched in order (`chart_folder`).
    """
    release = _required(props, "name")
    chart_ref = _required(props, "chart")
    version = _required(props, "version")
    namespace = str(props.get("namespace") or "default")
    chart = chart_ref.rstrip("/").rsplit("/", 1)[-1]
    what = f"Helm release {release!r} (chart {chart} {version})"
    if props.get("postrender"):
        raise ReleaseRenderError(f"{what}: a post-renderer cannot be reproduced offline")
    values = _release_values(props, what)
    folder = chart_folder(charts_dir, chart, version)
    try:
        # One load per render: rendering drops the subcharts the values disable from the loaded chart.
        with helm.Chart.load(folder) as loaded:
            if (loaded.name, loaded.version) != (chart, version):
                raise ChartNotCached(
                    f"{folder} holds chart {loaded.name} {loaded.version}, not {chart} {version}"
                )
            files = loaded.render(values, name=release, namespace=namespace, revision=1, is_install=True)
            crd_files = (
                [] if props.get("skipCrds") else loaded.crds
            )  # read after render(): enabled subcharts only
    except helm.HelmError as error:
        raise ReleaseRenderError(f"{what}: {error.detail}") from error

    crds = [obj for crd in crd_files for obj in _objects(crd["data"], crd["filename"], what)]
    generic: list[dict[str, Any]] = []
    hooks: list[dict[str, Any]] = []
    for path in sorted(files):
        name = path.rsplit("/", 1)[-1]
        if name.startswith("_") or name == "NOTES.txt":
            continue
        for obj in _objects(files[path], path, what):
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            (hooks if HOOK_ANNOTATION in annotations else generic).append(obj)
    generic = _install_order(generic)
    return RenderedRelease(
        release=release,
        namespace=namespace,
        chart=chart,
        version=version,
        crds=crds + [obj for obj in generic if _is_crd(obj)],
        objects=[obj for obj in generic if not _is_crd(obj)],
        hooks=_install_order(hooks),
    )


def _required(props: Mapping[str, Any], key: str) -> str:
    value = props.get(key)
    if not isinstance(value, str) or not value:
        raise ReleaseRenderError(
            f"Helm release {props.get('name') or '?'!r}: `{key}` must be set to render it offline, got {value!r}"
        )
    return value


def _release_values(props: Mapping[str, Any], what: str) -> dict[str, Any]:
    """The values the Pulumi provider passes to Helm (`decodeRelease`: files first, `values` win)."""
    merged: dict[str, Any] = {}
    for asset in props.get("valueYamlFiles") or []:
        if isinstance(asset, pulumi.StringAsset):
            text = asset.text
        elif isinstance(asset, pulumi.FileAsset):
            text = Path(asset.path).read_text(encoding="utf-8")
        else:
            raise ReleaseRenderError(
                f"{what}: valueYamlFiles entry {asset!r} is neither a file nor a string asset"
            )
        try:
            merged = _merge(merged, helm.values_from_yaml(text))
        except helm.HelmError as error:
            raise ReleaseRenderError(
                f"{what}: a valueYamlFiles entry is not a values map: {error.detail}"
            ) from error
    values = _plain(props.get("values") or {}, what, "values")
    return _merge(merged, values)


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Pulumi's `MergeMaps`: maps merge key by key, anything else in `override` replaces."""
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, Mapping) and isinstance(out.get(key), dict)
            else value
        )
    return out


def _plain(value: Any, what: str, at: str) -> Any:
    """Engine inputs as Helm receives them: secrets unwrapped, integral numbers as integers.

    The engine carries every number as a double (`replicas: 2.0`); Helm's JSON values hold `2`. A value
    that is unknown until deployment cannot be rendered faithfully, so it is an error here.
    """
    if isinstance(value, Mapping):
        if value.get(_special_sig_key) == _special_secret_sig:
            return _plain(value.get("value"), what, at)
        return {key: _plain(item, what, f"{at}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, what, f"{at}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Unknown) or value == UNKNOWN:
        raise ReleaseRenderError(
            f"{what}: {at} is only known after deployment, so the chart cannot be rendered"
        )
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _objects(text: str, source: str, what: str) -> Iterator[dict[str, Any]]:
    """The objects of one rendered file, split like Helm's `SplitManifests` and parsed by Helm's YAML reader."""
    for document in _SEPARATOR.split(text.lstrip()):
        if not document.strip():
            continue
        try:
            obj = helm.values_from_yaml(document)
        except helm.HelmError as error:
            raise ReleaseRenderError(
                f"{what}: {source} renders a document that is not an object: {error.detail}"
            ) from error
        if not obj:  # only comments, or a template that rendered nothing but a separator
            continue
        if not obj.get("kind") or not obj.get("apiVersion"):
            raise ReleaseRenderError(
                f"{what}: {source} renders an object without apiVersion or kind: {document[:200]!r}"
            )
        yield obj


def _install_order(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Helm's stable sort by kind: known kinds in `INSTALL_ORDER`, unknown kinds after them by name."""
    return sorted(
        objects,
        key=lambda obj: (_RANK.get(obj["kind"], len(_RANK)), "" if obj["kind"] in _RANK else obj["kind"]),
    )


def _is_crd(obj: Mapping[str, Any]) -> bool:
    return obj["kind"] == "CustomResourceDefinition" and str(obj["apiVersion"]).startswith(
        "apiextensions.k8s.io/"
    )
