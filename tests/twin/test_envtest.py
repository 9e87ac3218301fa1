"""`kiva twin` on envtest binaries (`KUBEBUILDER_ASSETS`) when the kiva-k8s tools are not there.

The assets folders are built from the tools' own checksummed binaries, as `setup-envtest` would lay
them out: all four, or only etcd and kube-apiserver (what `setup-envtest use` usually gives).
"""

from __future__ import annotations

import hashlib
import lzma
import os
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import infra.offline.engine as engine
from infra.cli import main
from infra.offline.engine import Plan
from infra.twin import control_plane, envtest
from infra.twin.api import TwinError
from tests.conftest import PROJECT_DIR

FOUR = ("etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager")


def _sums(bin_dir: Path) -> dict[str, str]:
    rows = (line.split() for line in (bin_dir / "SHA256SUMS").read_text().splitlines() if line.strip())
    return {name.lstrip("*"): digest for digest, name in rows}


def _binary(tools: Path, name: str, into: Path) -> Path:
    """The tools' binary `name`: from their cache when it was verified against SHA256SUMS, else unpacked here."""
    sums_file = tools / "bin" / "SHA256SUMS"
    digest = _sums(tools / "bin")[name]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kiva-k8s"
    cached = cache / hashlib.sha256(sums_file.read_bytes()).hexdigest()[:16] / name
    marker = cached.with_name(f".{name}.verified")
    verified = cached.is_file() and marker.is_file()
    if verified and marker.read_text().split() == [digest, str(cached.stat().st_size)]:
        return cached
    target = into / name
    hasher = hashlib.sha256()
    with lzma.open(tools / "bin" / f"{name}.xz") as packed, target.open("wb") as out:
        while chunk := packed.read(4 << 20):
            hasher.update(chunk)
            out.write(chunk)
    assert hasher.hexdigest() == digest, f"{name}: checksum differs from {sums_file}"
    target.chmod(0o755)
    return target


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two KUBEBUILDER_ASSETS folders: "full" (all four binaries) and "api" (etcd, kube-apiserver)."""
    value = os.environ.get("KIVA_K8S_TOOLS")
    if not value:
        pytest.skip("KIVA_K8S_TOOLS is not set: no binaries to build a KUBEBUILDER_ASSETS folder from")
    tools = Path(value)
    if not (tools / "bin" / "SHA256SUMS").is_file():
        pytest.skip(f"KIVA_K8S_TOOLS={tools}: no bin/SHA256SUMS there")
    store = tmp_path_factory.mktemp("unpacked")
    binaries = {name: _binary(tools, name, store) for name in FOUR}
    folders = {"full": FOUR, "api": FOUR[:2]}
    out = {}
    for label, names in folders.items():
        folder = tmp_path_factory.mktemp(f"assets-{label}")
        for name in names:
            (folder / name).symlink_to(binaries[name])
        out[label] = folder
    return out


@pytest.fixture
def envtest_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[Any]]:
    """KIVA_K8S_TOOLS unset; state dirs under tmp_path; every plane the twin starts is recorded."""
    charts = os.environ.get("KIVA_CHARTS_DIR")
    if not charts or not Path(charts).is_dir():
        pytest.skip("KIVA_CHARTS_DIR is not set or missing: no chart cache for the twin (tests never pull)")
    monkeypatch.delenv("KIVA_K8S_TOOLS", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    planes: list[Any] = []
    real_start = envtest.start

    def recording_start(*args: Any, **kwargs: Any) -> envtest.EnvtestPlane:
        plane = real_start(*args, **kwargs)
        planes.append((plane, {name: p.pid for name, p in plane.processes.items()}, plane.state))
        return plane

    monkeypatch.setattr(envtest, "start", recording_start)
    yield planes


def _alive_under(pids: dict[str, int], folder: Path) -> list[str]:
    """Components whose PID still runs a command line naming `folder` (a reused PID would not)."""
    alive = []
    for name, pid in pids.items():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in cmdline:
            alive.append(f"{name} ({pid})")
    return alive


def _twin(stack: str) -> Any:
    return CliRunner().invoke(main, ["twin", stack, "--project-dir", str(PROJECT_DIR)])


@pytest.mark.twin
def test_twin_on_envtest_binaries_judges_everything(
    assets: dict[str, Path], envtest_only: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets["full"]))
    result = _twin("local")
    assert result.exit_code == 0, result.output
    assert f"envtest control plane from KUBEBUILDER_ASSETS={assets['full']}" in result.output
    assert "kube-scheduler, kube-controller-manager" in result.output
    assert "every object accepted and every pod placed" in result.output
    [(plane, pids, state)] = envtest_only
    assert set(pids) == set(FOUR)
    assert not _alive_under(pids, tmp_path), "control-plane processes left running"
    assert not state.exists() and plane.state is None


@pytest.mark.twin
def test_twin_without_scheduler_says_placement_was_not_judged(
    assets: dict[str, Path], envtest_only: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets["api"]))
    result = _twin("local")
    assert result.exit_code == 1, result.output
    assert "placement not judged: no kube-scheduler/kube-controller-manager in KUBEBUILDER_ASSETS" in (
        result.output
    )
    assert "Result: NOT JUDGED: every object accepted" in result.output
    assert "Rejected by the API server" not in result.output  # admission ran without ServiceAccounts
    [(_, pids, state)] = envtest_only
    assert set(pids) == {"etcd", "kube-apiserver"}
    assert not _alive_under(pids, tmp_path)
    assert not state.exists()


@pytest.mark.twin
def test_failed_start_stops_what_it_started_and_shows_the_log(
    assets: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "etcd").symlink_to(assets["full"] / "etcd")
    apiserver = broken / "kube-apiserver"
    apiserver.write_text("#!/bin/sh\necho 'E0101 flag provided but not defined: -bogus' >&2\nexit 1\n")
    apiserver.chmod(apiserver.stat().st_mode | stat.S_IXUSR)
    state = tmp_path / "state"
    seen: dict[str, int] = {}
    real_wait = envtest._Starter._wait

    def spy(self: Any, name: str, *args: Any) -> None:
        seen.update({n: p.pid for n, p in self.plane.processes.items()})
        real_wait(self, name, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(envtest._Starter, "_wait", spy)
        with pytest.raises(TwinError) as error:
            envtest.start(broken, state)
    assert "kube-apiserver" in str(error.value) and "exited with status 1" in str(error.value)
    assert "flag provided but not defined: -bogus" in str(error.value)
    assert "etcd" in seen and not _alive_under(seen, state)
    assert not state.exists()


@pytest.mark.twin
def test_interrupt_during_start_stops_what_it_started(
    assets: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also: a relative KUBEBUILDER_ASSETS works, though the components run in the state dir."""
    monkeypatch.chdir(assets["api"].parent)
    state = tmp_path / "state"
    started: dict[str, int] = {}

    def interrupted(self: Any) -> list[str]:
        started.update({n: p.pid for n, p in self.plane.processes.items()})
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(envtest._Starter, "_apiserver_argv", interrupted)
        with pytest.raises(KeyboardInterrupt):
            envtest.start(Path(assets["api"].name), state)
    assert set(started) == {"etcd"}
    assert not _alive_under(started, state)
    assert not state.exists()


@pytest.mark.twin
def test_watchdog_stops_the_plane_when_the_twin_is_killed(assets: dict[str, Path], tmp_path: Path) -> None:
    """SIGKILL skips every `finally`: the watchdog, not `stop`, must end the components."""
    state = tmp_path / "state"
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom infra.twin import envtest\n"
        "envtest.start(Path(sys.argv[1]), Path(sys.argv[2]))\nprint('ready', flush=True)\ntime.sleep(120)\n"
    )
    twin = subprocess.Popen(
        [sys.executable, "-c", script, str(assets["api"]), str(state)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_DIR,
    )
    try:
        assert twin.stdout is not None and twin.stdout.readline().strip() == "ready"
        pids = {f.stem: int(f.read_text()) for f in (state / "pids").glob("*.pid")}
        assert set(pids) == {"etcd", "kube-apiserver"} and _alive_under(pids, state)
    finally:
        twin.kill()
        twin.wait()
    deadline = time.monotonic() + 30
    while (_alive_under(pids, state) or state.exists()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive_under(pids, state)
    assert not state.exists()


def _executable(path: Path) -> None:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)


def test_assets_without_apiserver_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _executable(tmp_path / "etcd")
    (tmp_path / "kube-apiserver").write_text("not executable\n")
    monkeypatch.delenv("KIVA_K8S_TOOLS", raising=False)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    monkeypatch.setattr(engine, "run_program", lambda stack_file: Plan("kiva", "dev", {}, frozenset(), []))
    result = _twin("dev")
    assert result.exit_code == 2, result.output
    assert f"KUBEBUILDER_ASSETS={tmp_path} has no kube-apiserver executable" in result.output
    assert "set KIVA_K8S_TOOLS" in result.output
    assert "Traceback" not in result.output


def test_tools_come_before_envtest_assets(tmp_path: Path) -> None:
    tools, assets = tmp_path / "tools", tmp_path / "assets"
    tools.mkdir()
    assets.mkdir()
    for name in ("up", "down"):
        (tools / name).write_text("")
    for name in envtest.REQUIRED:
        _executable(assets / name)
    both = {"KIVA_K8S_TOOLS": str(tools), "KUBEBUILDER_ASSETS": str(assets)}
    assert control_plane.choose(both) == control_plane.Source("tools", tools)
    assert control_plane.choose({"KUBEBUILDER_ASSETS": str(assets)}) == control_plane.Source(
        "envtest", assets
    )
    with pytest.raises(TwinError, match="set KIVA_K8S_TOOLS"):
        control_plane.choose({})


def test_only_controllers_the_binary_knows_are_switched_off(tmp_path: Path) -> None:
    """A stock kube-controller-manager refuses unknown names in --controllers (the OpenShift one)."""
    binary = tmp_path / "kube-controller-manager"
    binary.write_text(
        "#!/bin/sh\ncat <<'EOF'\n      --controllers strings   A list of controllers to enable.\n"
        "                              All controllers: cronjob-controller, node-lifecycle-controller, "
        "service-lb-controller\n                              Disabled-by-default controllers: x\nEOF\n"
    )
    binary.chmod(0o755)
    starter = envtest._Starter(
        envtest.EnvtestPlane(kubeconfig=tmp_path / "kubeconfig", state=tmp_path),
        tmp_path,
        {"kube-controller-manager": binary},
        timeout=5,
    )
    starter.ports["kube-controller-manager"] = 1
    argv = starter._controller_manager_argv()
    assert "--controllers=*,-node-lifecycle-controller,-service-lb-controller" in argv
