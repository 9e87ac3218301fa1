"""Start and stop the throw-away control plane, or use a cluster the user gives.

Where it comes from, first match wins: the kiva-k8s tools (`KIVA_K8S_TOOLS`; their `up --scheduler`
starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler on loopback and prints
`KUBECONFIG=…` last, `down` stops exactly what `up` recorded, and `--watch-pid` makes the tools stop the
cluster by themselves should this process die without running `stop`), else envtest binaries
(`KUBEBUILDER_ASSETS`, started by `infra.twin.envtest`), else a usage error. Users of this repository
rarely have the tools; envtest binaries are common, but often without a scheduler and controller-manager,
so a plane says which of those it lacks (`missing`) and the twin then reports placement as not judged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infra.twin.api import TwinError

TOOLS_ENV = "KIVA_K8S_TOOLS"
ASSETS_ENV = "KUBEBUILDER_ASSETS"
NO_CONTROL_PLANE = (
    f"kiva twin: no control plane: set {TOOLS_ENV} to the kiva-k8s tools folder (for example "
    f"{TOOLS_ENV}=../shared/tools/k8s), or {ASSETS_ENV} to a folder of envtest binaries with etcd and "
    "kube-apiserver (`setup-envtest use -p path`; add kube-scheduler and kube-controller-manager of the "
    "same version for placement to be judged), or pass --kubeconfig of a throw-away cluster such as kind"
)


@dataclass(frozen=True)
class Source:
    """Where the twin's own control plane comes from: the tools folder or an envtest assets folder."""

    kind: str  # "tools" or "envtest"
    path: Path


def choose(environ: Mapping[str, str] = os.environ) -> Source:
    """KIVA_K8S_TOOLS first, else KUBEBUILDER_ASSETS with etcd and kube-apiserver, else a TwinError (exit 2)."""
    if environ.get(TOOLS_ENV):
        return Source("tools", tools_dir(environ))
    assets = environ.get(ASSETS_ENV)
    if assets:
        from infra.twin import envtest

        path = Path(assets).expanduser()
        absent = envtest.missing_required(path)
        if absent:
            raise TwinError(
                f"{NO_CONTROL_PLANE}. ({ASSETS_ENV}={assets} has no {' or '.join(absent)} executable.)"
            )
        return Source("envtest", path)
    raise TwinError(NO_CONTROL_PLANE)


def tools_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The control-plane tools folder, or a TwinError saying how to get one."""
    value = environ.get(TOOLS_ENV)
    if not value:
        raise TwinError(NO_CONTROL_PLANE)
    path = Path(value).expanduser()
    if not (path / "up").is_file() or not (path / "down").is_file():
        raise TwinError(f"kiva twin: {TOOLS_ENV}={value}: no `up` and `down` scripts in that folder")
    return path


@dataclass
class ControlPlane:
    kubeconfig: Path
    state: Path | None = None
    tools: Path | None = None
    description: str = ""
    missing: tuple[str, ...] = ()  # components placement needs that this plane does not run
    placement_gap: str = ""  # why placement cannot be judged here ("" when it can)

    @property
    def owned(self) -> bool:
        return self.state is not None

    def stop(self) -> None:
        """Stop what `start` started (idempotent); a user's cluster is left alone."""
        if self.state is None or self.tools is None:
            return
        state, self.state = self.state, None
        subprocess.run(
            [str(self.tools / "down"), "--state", str(state)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=60,
        )
        shutil.rmtree(state, ignore_errors=True)


def start(tools: Path, timeout: float = 120) -> ControlPlane:
    """`up --scheduler` in a fresh state dir; the caller must `stop()` it (try/finally)."""
    state = Path(tempfile.mkdtemp(prefix="kiva-twin-"))
    plane = ControlPlane(kubeconfig=state / "kubeconfig", state=state, tools=tools)
    try:
        done = subprocess.run(
            [str(tools / "up"), "--scheduler", "--state", str(state), "--watch-pid", str(os.getpid())],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        plane.stop()
        raise TwinError(f"kiva twin: the control plane did not start within {timeout:.0f} s") from None
    except BaseException:
        plane.stop()
        raise
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].startswith("KUBECONFIG="):
        plane.stop()
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise TwinError(f"kiva twin: {tools / 'up'} failed (exit {done.returncode}):\n{tail}")
    plane.kubeconfig = Path(lines[-1].split("=", 1)[1])
    plane.description = f"kube-apiserver, controller-manager, scheduler from {tools}"
    return plane


def start_from(source: Source) -> ControlPlane:
    """Start the control plane `choose` found; the caller must `stop()` it (try/finally)."""
    if source.kind == "envtest":
        from infra.twin import envtest

        return envtest.start(source.path)
    return start(source.path)


def external(kubeconfig: Path) -> ControlPlane:
    if not kubeconfig.is_file():
        raise TwinError(f"kiva twin: --kubeconfig {kubeconfig}: no such file")
    return ControlPlane(kubeconfig=kubeconfig, description=f"the cluster of {kubeconfig}")
