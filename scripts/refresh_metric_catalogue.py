"""Write tests/monitoring/exported_metrics.json: the metric names each pinned exporter really exports.

Why: dashboards and alerts name metrics as plain strings. When an upgrade renames one (vLLM did,
several times), a panel goes empty and an alert never fires, silently. The contract test
(tests/monitoring/test_metric_contract.py) checks every name used in a dashboard or alert against
this file; this script builds the file from the *source* of the exact versions that
infra/versions.py pins, so the file cannot drift into wishful thinking.

What is read, per exporter (every source is recorded in the JSON with its tag and commit):

* vLLM (`VLLM_VERSION`): the published wheel `vllm==<version>` (the OpenAI server image installs
  it), every `vllm/**/*.py`: calls of prometheus_client's Counter/Gauge/Histogram (and vLLM's
  `_counter_cls`/`_gauge_cls`/`_histogram_cls` wrappers) whose name starts with `vllm:`.
  The commit comes from the wheel's `vllm/_version.py`. (The git repository is larger than the
  mirror allows, so the wheel is the source; it is the very code the image runs.)
* LiteLLM (`LITELLM_VERSION`): the installed package (dev dependency pinned to the same version),
  the files of `LITELLM_FILES`: calls of `_counter_factory`/`_gauge_factory`/`_histogram_factory`
  (the Prometheus callback) and of prometheus_client's Counter/Gauge/Histogram (middleware, cleanup
  job). The contract test re-extracts this on every run.
* CloudNativePG (`CLOUDNATIVE_PG`, chart 0.29.0 -> operator appVersion 1.30.0): the chart's default
  monitoring queries (values.yaml `monitoringQueriesConfigMap.queries`, the ConfigMap
  `cnpg-default-monitoring` every Cluster uses) named as the operator names them
  (pkg/management/postgres/metrics/mappings.go: `cnpg_<query or its name>_<column or its name>`,
  DURATION gets `_milliseconds`, HISTOGRAM `_bucket/_sum/_count`), plus the built-in collector
  metrics of the instance manager (pkg/management/postgres/webserver/metricserver/*.go and the
  queries collector's own metrics in pkg/management/postgres/metrics/collector.go).
* Barman Cloud plugin (`BARMAN_CLOUD_PLUGIN`, chart 0.7.0 -> v0.13.0): the metrics the plugin
  defines through CNPG-i (internal/cnpgi/instance/metrics.go), exposed by the instance manager.
* DCGM exporter (`GPU_OPERATOR`, chart v25.10.0): the dcgm-exporter image tag the chart's
  values.yaml pins, and the counters file the operator points it at
  (assets/state-dcgm-exporter/0800_daemonset.yaml: DCGM_EXPORTER_COLLECTORS=
  /etc/dcgm-exporter/dcp-metrics-included.csv, i.e. etc/dcp-metrics-included.csv of that tag).
* cert-manager (`CERT_MANAGER`, v1.21.1): pkg/metrics/*.go and internal/collectors/*.go.
* kubelet: its volume statistics only (KUBELET_VOLUME_STATS; the Kubernetes version is the cluster's).
* Prometheus itself: the series every scrape and every alerting rule adds (`up`, `scrape_*`,
  `ALERTS`, ...), from the Prometheus documentation (see PROMETHEUS_SYNTHETIC).

Exposition names follow the client libraries: prometheus_client (Python) strips `_total` from a
counter's name and exposes `<name>_total`; histograms expose `_bucket`, `_sum`, `_count`; a Go
client counter keeps its name as given. `_created` series are left out (vLLM runs the client in
multiprocess mode, which does not expose them, and no dashboard should need them).

How to refresh (after bumping a pin in infra/versions.py and the charts under ../shared/charts):

    # mirrors of the git repositories (the search tool's `fetch`, or `git clone --mirror`):
    #   cloudnative-pg/cloudnative-pg, cloudnative-pg/plugin-barman-cloud, NVIDIA/gpu-operator,
    #   NVIDIA/dcgm-exporter, cert-manager/cert-manager  -> <MIRRORS>/<owner>+<name>/repo
    pip download vllm==0.28.0 --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \\
        --python-version 3.12 --implementation cp --abi abi3 -d /tmp/vllm
    uv run python scripts/refresh_metric_catalogue.py --vllm-wheel /tmp/vllm/vllm-0.28.0-*.whl \\
        [--mirrors /work/.mirror] [--charts ../shared/charts]

After a LiteLLM bump only (the installed package is its source; nothing else is needed):

    uv run python scripts/refresh_metric_catalogue.py --only litellm

It runs offline from those inputs (git objects are read with `git show <tag>:<path>`, never
fetched) and exits 2 with a message naming the missing input.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import importlib.util
import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "monitoring" / "exported_metrics.json"

#: Series Prometheus adds itself: per scrape target ("Automatically generated labels and time
#: series", prometheus.io/docs/concepts/jobs_instances/) and per alerting rule ("Inspecting alerts
#: during runtime", prometheus.io/docs/prometheus/latest/configuration/alerting_rules/).
PROMETHEUS_SYNTHETIC = {
    "up": "gauge",
    "scrape_duration_seconds": "gauge",
    "scrape_samples_scraped": "gauge",
    "scrape_samples_post_metric_relabeling": "gauge",
    "scrape_series_added": "gauge",
    "ALERTS": "gauge",
    "ALERTS_FOR_STATE": "gauge",
}

#: The kubelet's volume statistics (scraped by kube-prometheus-stack's kubelet ServiceMonitor). The
#: kubelet is the cluster's, not pinned by KIVA; these names are unchanged since Kubernetes 1.8:
#: kubernetes/kubernetes pkg/kubelet/metrics/metrics.go (`VolumeStats*Key`, subsystem `kubelet`) and
#: pkg/kubelet/metrics/collectors/volume_stats.go (commit 94341df30b4aef29676b997d0e2320534d05bfab).
KUBELET_VOLUME_STATS = {
    f"kubelet_volume_stats_{key}": "gauge"
    for key in (
        "capacity_bytes",
        "available_bytes",
        "used_bytes",
        "inodes",
        "inodes_free",
        "inodes_used",
        "health_status_abnormal",
    )
}

Kind = str  # counter | gauge | histogram | summary | info | untyped


class SourceError(Exception):
    """A pinned source is missing or does not have the expected shape."""


# -- exposition names ---------------------------------------------------------------------------


def python_client_samples(name: str, kind: Kind) -> list[str]:
    """The series names prometheus_client (Python) exposes for one metric (no `_created`)."""
    if kind == "counter":
        return [name.removesuffix("_total") + "_total"]
    if kind == "histogram":
        return [f"{name}_bucket", f"{name}_sum", f"{name}_count"]
    if kind == "summary":
        return [f"{name}_sum", f"{name}_count"]
    if kind == "info":
        return [name.removesuffix("_info") + "_info"]
    return [name]


def go_client_samples(name: str, kind: Kind) -> list[str]:
    """The series names client_golang exposes for one metric (counters keep their name)."""
    if kind == "histogram":
        return [f"{name}_bucket", f"{name}_sum", f"{name}_count"]
    if kind == "summary":
        return [name, f"{name}_sum", f"{name}_count"]
    return [name]


# -- Python sources (prometheus_client) ---------------------------------------------------------

_PY_CONSTRUCTOR = re.compile(r"^_?(counter|gauge|histogram|summary|info)(_cls|_factory)?$", re.IGNORECASE)


def _constructor_kind(func: ast.expr) -> Kind | None:
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    match = _PY_CONSTRUCTOR.match(name)
    return match.group(1).lower() if match else None


def _string_assignments(scope: ast.AST) -> dict[str, list[str]]:
    """`x = "literal"` assignments directly in a scope (module or function body, not nested defs)."""
    found: dict[str, list[str]] = {}
    for node in ast.walk(scope):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(node.value.value)
    return found


def python_metrics(source: str, prefix: str, filename: str = "<source>") -> dict[str, Kind]:
    """Metrics a Python module registers: constructor calls with a literal (or resolvable) name.

    The name is the `name=` keyword or the first positional argument. A plain variable is resolved
    through string assignments in the enclosing function, then the module; failing that (vLLM's
    spec-decode counters loop over a list of `(name, doc)` tuples), every full metric name with the
    exporter's prefix that stands in a list or tuple of the enclosing function counts.
    """
    tree = ast.parse(source, filename)
    module_strings = _string_assignments(tree)
    full_name = re.compile(re.escape(prefix) + r"[A-Za-z0-9_:]+")
    found: dict[str, Kind] = {}

    def visit(scope: ast.AST, function: ast.AST | None) -> None:
        for node in ast.iter_child_nodes(scope):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(node, node)
                continue
            if isinstance(node, ast.Call) and (kind := _constructor_kind(node.func)):
                for name in _call_names(node, function, module_strings, full_name):
                    if name.startswith(prefix):
                        found[name] = kind
            visit(node, function)

    visit(tree, None)
    return found


def _call_names(
    call: ast.Call, function: ast.AST | None, module_strings: dict[str, list[str]], full_name: re.Pattern[str]
) -> list[str]:
    arg: ast.expr | None = next((k.value for k in call.keywords if k.arg == "name"), None)
    if arg is None and call.args:
        arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.Name):
        local = _string_assignments(function) if function is not None else {}
        if arg.id in local:
            return local[arg.id]
        if arg.id in module_strings:
            return module_strings[arg.id]
        if function is not None:  # names listed in a list or tuple the call loops over
            return [
                item.value
                for node in ast.walk(function)
                if isinstance(node, ast.List | ast.Tuple)
                for item in node.elts
                if isinstance(item, ast.Constant)
                and isinstance(item.value, str)
                and full_name.fullmatch(item.value)
            ]
    return []


#: LiteLLM files that register Prometheus metrics on the proxy's /metrics: the Prometheus callback,
#: the in-flight requests middleware (a gauge, `livesum` across workers) and, since the 1.108 line, the
#: spend-log cleanup job's own instruments (registered in the default registry on first use, on the pod
#: that wins the cleanup lock: proxy/db/db_transaction_queue/spend_log_cleanup_metrics.py).
LITELLM_FILES = (
    "integrations/prometheus.py",
    "proxy/middleware/in_flight_requests_middleware.py",
    "proxy/db/db_transaction_queue/spend_log_cleanup_metrics.py",
)


def litellm_metrics() -> dict[str, Any]:
    """The LiteLLM proxy's Prometheus metrics, read from the installed litellm package."""
    from importlib.metadata import version

    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        raise SourceError("litellm is not installed: run `uv pip sync --require-hashes requirements.lock`")
    package = Path(spec.origin).parent
    families: dict[str, Kind] = {}
    digests: dict[str, str] = {}
    for relative in LITELLM_FILES:
        path = package / relative
        families.update(python_metrics(path.read_text(), "litellm_", str(path)))
        digests[f"litellm/{relative}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "version": version("litellm"),
        "source": {
            "package": f"litellm=={version('litellm')} (PyPI, installed from requirements.lock)",
            "files": sorted(digests),
            "sha256": digests,
        },
        "families": dict(sorted(families.items())),
        "names": _names(families, python_client_samples),
    }


def vllm_metrics(wheel: Path | None) -> dict[str, Any]:
    """vLLM's Prometheus metrics, read from its published wheel (`vllm:` prefix)."""
    if wheel is None:
        raise SourceError(
            "--vllm-wheel is required to refresh vllm (the wheel vllm-<VLLM_VERSION>-*.whl downloaded as this "
            "script's docstring shows, e.g. --vllm-wheel /tmp/vllm/vllm-0.28.0-*.whl), or refresh others only: "
            "--only litellm"
        )
    if not wheel.is_file():
        raise SourceError(f"--vllm-wheel: no file {wheel} (see this script's docstring to download it)")
    families: dict[str, Kind] = {}
    files: list[str] = []
    with zipfile.ZipFile(wheel) as archive:
        version_py = archive.read("vllm/_version.py").decode()
        for member in sorted(archive.namelist()):
            if not (member.startswith("vllm/") and member.endswith(".py")):
                continue
            text = archive.read(member).decode()
            if "vllm:" not in text:
                continue
            found = python_metrics(text, "vllm:", member)
            if found:
                files.append(member)
                families.update(found)
    version = re.search(r"__version__ = version = '([^']+)'", version_py)
    commit = re.search(r"__commit_id__ = commit_id = '?g?([0-9a-f]+)", version_py)
    if not version or not commit:
        raise SourceError(f"{wheel}: vllm/_version.py has no version or commit id")
    return {
        "version": "v" + version.group(1),
        "source": {
            "package": f"{wheel.name} (PyPI), sha256 {hashlib.sha256(wheel.read_bytes()).hexdigest()}",
            "repo": "vllm-project/vllm",
            "tag": "v" + version.group(1),
            "commit": commit.group(1) + " (abbreviated, from vllm/_version.py)",
            "files": files,
        },
        "families": dict(sorted(families.items())),
        "names": _names(families, python_client_samples),
    }


# -- Go sources (client_golang) -----------------------------------------------------------------


class GitTag:
    """Files of one tag of a mirrored repository, read with `git show` (no network)."""

    def __init__(self, mirrors: Path, repo: str, tag: str) -> None:
        self.repo, self.tag = repo, tag
        self.git_dir = mirrors / repo.replace("/", "+") / "repo"
        if not self.git_dir.is_dir():
            raise SourceError(f"no mirror of {repo} at {self.git_dir} (see this script's docstring)")
        self.commit = self._git("rev-parse", f"{tag}^{{commit}}").strip()

    def _git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SourceError(f"{self.repo}: git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def show(self, path: str) -> str:
        return self._git("show", f"{self.tag}:{path}")

    def ls(self, folder: str, suffix: str) -> list[str]:
        names = self._git("ls-tree", "--name-only", f"{self.tag}:{folder}").split()
        return [f"{folder}/{n}" for n in names if n.endswith(suffix) and not n.endswith("_test.go")]

    def provenance(self, files: list[str]) -> dict[str, Any]:
        return {"repo": self.repo, "tag": self.tag, "commit": self.commit, "files": files}


_GO_OPTS = re.compile(
    r"prometheus\.New(Counter|Gauge|Histogram|Summary)(?:Vec|Func)?\((?:\s*//[^\n]*)*\s*prometheus\.\w+Opts\{"
)
_GO_STRING_BINDING = re.compile(r"\b(\w+)\s*(?::=|=)\s*\"([^\"]*)\"")
_GO_FIELD = re.compile(r"^\s*(Namespace|Subsystem|Name):\s*(\"[^\"]*\"|\w+)\s*,", re.MULTILINE)
_GO_DESC = re.compile(r"prometheus\.NewDesc\(\s*\"([^\"]+)\"")


def _go_block(text: str, start: int) -> str:
    """The text of the `{...}` block opening at text[start - 1]."""
    depth, index = 1, start
    while depth and index < len(text):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        index += 1
    return text[start:index]


def go_metrics(sources: dict[str, str], bindings: dict[str, str] | None = None) -> dict[str, Kind]:
    """Metrics declared with client_golang `New<Kind>[Vec](…Opts{Namespace, Subsystem, Name})` or
    `NewDesc("literal", …)` (const metrics, reported as gauges), identifiers resolved through the
    package's string constants and variables plus `bindings` (values a caller passes in)."""
    known = dict(bindings or {})
    for text in sources.values():
        for ident, value in _GO_STRING_BINDING.findall(text):
            known.setdefault(ident, value)
    found: dict[str, Kind] = {}
    for path, text in sources.items():
        for match in _GO_OPTS.finditer(text):
            fields = dict(_GO_FIELD.findall(_go_block(text, match.end())))
            parts = []
            for key in ("Namespace", "Subsystem", "Name"):
                raw = fields.get(key)
                if raw is None:
                    continue
                value = raw.strip('"') if raw.startswith('"') else known.get(raw)
                if value is None:
                    raise SourceError(f"{path}: cannot resolve {key}: {raw}")
                if value:
                    parts.append(value)
            found["_".join(parts)] = match.group(1).lower()
        for name in _GO_DESC.findall(text):
            found[name] = "gauge"
    return found


def cnpg_query_metrics(queries_yaml: str | dict[str, Any], namespace: str = "cnpg") -> dict[str, Kind]:
    """Metric names of CNPG custom queries (YAML text or its parsed document), as mappings.go and
    collector.go name them. The contract test also applies it to the platform's own custom queries."""
    queries = yaml.safe_load(queries_yaml) if isinstance(queries_yaml, str) else queries_yaml
    found: dict[str, Kind] = {}
    for key, query in queries.items():
        prefix = f"{namespace}_{query.get('name') or key}"
        for mapping in query.get("metrics", []):
            for column, spec in mapping.items():
                usage = spec["usage"]
                fq = f"{prefix}_{spec.get('name') or column}"
                if usage in ("COUNTER", "GAUGE", "MAPPEDMETRIC"):
                    found[fq] = usage.lower() if usage != "MAPPEDMETRIC" else "gauge"
                elif usage == "DURATION":
                    found[f"{fq}_milliseconds"] = "gauge"
                elif usage == "HISTOGRAM":
                    found[fq] = "histogram"
                elif usage not in ("LABEL", "DISCARD"):
                    raise SourceError(f"CNPG query {key}.{column}: unknown usage {usage}")
    return found


def cnpg_metrics(mirrors: Path, charts: Path) -> dict[str, Any]:
    from infra.versions import CLOUDNATIVE_PG

    chart_dir = charts / f"{CLOUDNATIVE_PG.name}-{CLOUDNATIVE_PG.version}"
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    values = yaml.safe_load((chart_dir / "values.yaml").read_text())
    repo = GitTag(mirrors, "cloudnative-pg/cloudnative-pg", "v" + chart["appVersion"])
    collector_files = [
        *repo.ls("pkg/management/postgres/webserver/metricserver", ".go"),
        "pkg/management/postgres/metrics/collector.go",
    ]
    controller = repo.show("internal/management/controller/instance_controller.go")
    collector_name = re.search(r'metrics\.NewQueriesCollector\("(\w+)"', controller)
    if not collector_name:
        raise SourceError('cloudnative-pg: NewQueriesCollector("…") not found in instance_controller.go')
    go_sources = {path: repo.show(path) for path in collector_files}
    families = go_metrics(go_sources, {"name": collector_name.group(1)})
    families.update(
        cnpg_query_metrics(values["monitoringQueriesConfigMap"]["queries"], collector_name.group(1))
    )
    return {
        "version": chart["version"],
        "app_version": chart["appVersion"],
        "source": {
            **repo.provenance([*collector_files, "internal/management/controller/instance_controller.go"]),
            "chart": f"{chart_dir.name}/values.yaml monitoringQueriesConfigMap.queries "
            "(cloudnative-pg/charts, see ../shared/charts/README.md)",
        },
        "families": dict(sorted(families.items())),
        "names": _names(families, go_client_samples),
    }


def barman_metrics(mirrors: Path, charts: Path) -> dict[str, Any]:
    from infra.versions import BARMAN_CLOUD_PLUGIN

    chart_dir = charts / f"{BARMAN_CLOUD_PLUGIN.name}-{BARMAN_CLOUD_PLUGIN.version}"
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    repo = GitTag(mirrors, "cloudnative-pg/plugin-barman-cloud", chart["appVersion"])
    metrics_go = "internal/cnpgi/instance/metrics.go"
    constants_go = "internal/cnpgi/metadata/constants.go"
    plugin = re.search(r'PluginName = "([^"]+)"', repo.show(constants_go))
    if not plugin:
        raise SourceError(f"plugin-barman-cloud: no PluginName in {constants_go}")
    domain = re.sub(r"[.-]", "_", plugin.group(1))  # metricsDomain in metrics.go
    names = re.findall(r'buildFqName\("([^"]+)"\)', repo.show(metrics_go))
    families = {f"{domain}_{re.sub(r'[.-]', '_', n)}": "gauge" for n in names}
    return {
        "version": chart["version"],
        "app_version": chart["appVersion"],
        "source": repo.provenance([metrics_go, constants_go]),
        "families": dict(sorted(families.items())),
        "names": _names(families, go_client_samples),
    }


def dcgm_metrics(mirrors: Path, charts: Path) -> dict[str, Any]:
    from infra.versions import GPU_OPERATOR

    chart_dir = charts / f"{GPU_OPERATOR.name}-{GPU_OPERATOR.version}"
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    image_tag = yaml.safe_load((chart_dir / "values.yaml").read_text())["dcgmExporter"]["version"]
    operator = GitTag(mirrors, "NVIDIA/gpu-operator", chart["version"])
    daemonset = "assets/state-dcgm-exporter/0800_daemonset.yaml"
    collectors = re.search(
        r"DCGM_EXPORTER_COLLECTORS\s*\n\s*value:\s*\"?/etc/dcgm-exporter/([\w.-]+)", operator.show(daemonset)
    )
    if not collectors:
        raise SourceError(f"gpu-operator: no DCGM_EXPORTER_COLLECTORS in {daemonset}")
    exporter = GitTag(
        mirrors, "NVIDIA/dcgm-exporter", image_tag.removesuffix("-distroless").removesuffix("-ubuntu22.04")
    )
    csv_path = f"etc/{collectors.group(1)}"
    families = dcgm_csv_metrics(exporter.show(csv_path))
    return {
        "version": chart["version"],
        "app_version": image_tag,
        "source": {
            **exporter.provenance([csv_path]),
            "pinned_by": {**operator.provenance([daemonset]), "chart_values": "dcgmExporter.version"},
        },
        "families": dict(sorted(families.items())),
        "names": _names(families, go_client_samples),
    }


def dcgm_csv_metrics(text: str) -> dict[str, Kind]:
    """`DCGM field, prometheus type, help` lines; `label` lines add a label, not a series."""
    found: dict[str, Kind] = {}
    for row in csv.reader(io.StringIO(text)):
        if not row or row[0].strip().startswith("#") or len(row) < 2:
            continue
        field, kind = row[0].strip(), row[1].strip().lower()
        if kind != "label":
            found[field] = kind
    return found


def cert_manager_metrics(mirrors: Path) -> dict[str, Any]:
    from infra.versions import CERT_MANAGER

    repo = GitTag(mirrors, "cert-manager/cert-manager", CERT_MANAGER.version)
    files = [*repo.ls("pkg/metrics", ".go"), *repo.ls("internal/collectors", ".go")]
    families = go_metrics({path: repo.show(path) for path in files})
    return {
        "version": CERT_MANAGER.version,
        "source": repo.provenance(files),
        "families": dict(sorted(families.items())),
        "names": _names(families, go_client_samples),
    }


def _names(families: dict[str, Kind], samples: Callable[[str, Kind], list[str]]) -> list[str]:
    return sorted({name for family, kind in families.items() for name in samples(family, kind)})


#: exporter -> the infra/versions.py name that pins it (the contract test compares the versions)
PINNED_BY = {
    "vllm": "VLLM_VERSION",
    "litellm": "LITELLM_VERSION",
    "cloudnative-pg": "CLOUDNATIVE_PG",
    "barman-cloud-plugin": "BARMAN_CLOUD_PLUGIN",
    "dcgm-exporter": "GPU_OPERATOR",
    "cert-manager": "CERT_MANAGER",
}


def build(
    vllm_wheel: Path | None,
    mirrors: Path,
    charts: Path,
    only: Iterable[str] = (),
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole catalogue; with `only`, those pinned exporters re-read and the others kept from
    `previous` (the catalogue on disk), so a LiteLLM bump needs neither the vLLM wheel nor the mirrors."""
    builders: dict[str, Callable[[], dict[str, Any]]] = {
        "vllm": lambda: vllm_metrics(vllm_wheel),
        "litellm": litellm_metrics,
        "cloudnative-pg": lambda: cnpg_metrics(mirrors, charts),
        "barman-cloud-plugin": lambda: barman_metrics(mirrors, charts),
        "dcgm-exporter": lambda: dcgm_metrics(mirrors, charts),
        "cert-manager": lambda: cert_manager_metrics(mirrors),
    }
    selected = set(only) or set(builders)
    if unknown := sorted(selected - set(builders)):
        raise SourceError(f"--only: unknown exporter {', '.join(unknown)}; one of {', '.join(builders)}")
    kept = (previous or {}).get("exporters", {})
    if missing := sorted(key for key in builders if key not in selected and key not in kept):
        raise SourceError(f"--only: {', '.join(missing)} not in the existing catalogue; refresh everything")
    exporters: dict[str, dict[str, Any]] = {
        key: builder() if key in selected else kept[key] for key, builder in builders.items()
    }
    for key, entry in exporters.items():
        entry["pinned_by"] = f"infra/versions.py {PINNED_BY[key]}"
    exporters["prometheus"] = {
        "version": "any",
        "source": {
            "docs": "prometheus.io/docs/concepts/jobs_instances/ and .../configuration/alerting_rules/"
        },
        "families": PROMETHEUS_SYNTHETIC,
        "names": sorted(PROMETHEUS_SYNTHETIC),
    }
    exporters["kubelet"] = {
        "version": "the cluster's (not pinned by KIVA)",
        "source": {
            "repo": "kubernetes/kubernetes",
            "commit": "94341df30b4aef29676b997d0e2320534d05bfab",
            "files": ["pkg/kubelet/metrics/metrics.go", "pkg/kubelet/metrics/collectors/volume_stats.go"],
        },
        "families": KUBELET_VOLUME_STATS,
        "names": sorted(KUBELET_VOLUME_STATS),
    }
    return {
        "generated_by": "scripts/refresh_metric_catalogue.py (do not edit by hand)",
        "exporters": exporters,
    }


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--vllm-wheel", type=Path, help="vllm-<VLLM_VERSION>-*.whl from PyPI (to refresh vllm)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="EXPORTER",
        help="refresh only this exporter (repeatable, e.g. --only litellm); keep the others from --output",
    )
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"), help="folder of git mirrors")
    parser.add_argument("--charts", type=Path, default=ROOT.parent / "shared" / "charts", help="chart cache")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(list(argv) if argv is not None else None)
    sys.path.insert(0, str(ROOT))
    try:
        previous = json.loads(args.output.read_text()) if args.only else None
        catalogue = build(args.vllm_wheel, args.mirrors, args.charts, args.only, previous)
    except (SourceError, OSError, KeyError, json.JSONDecodeError) as error:
        print(f"refresh_metric_catalogue: {error}", file=sys.stderr)
        return 2
    args.output.write_text(json.dumps(catalogue, indent=2, sort_keys=False) + "\n")
    counts = ", ".join(f"{k} {len(v['names'])}" for k, v in catalogue["exporters"].items())
    print(
        f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}: {counts}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
