"""A control plane from envtest binaries (`KUBEBUILDER_ASSETS`), for users without the kiva-k8s tools.

`setup-envtest use` puts etcd and kube-apiserver (sometimes kube-controller-manager and kube-scheduler
too) into one folder and names it in `KUBEBUILDER_ASSETS`; controller-runtime's envtest starts them from
there. The twin does the same, wired like a small real cluster rather than like envtest (which runs
only the API server): every component on 127.0.0.1 with free ports, TLS from a CA made here, static
bearer tokens (admin in `system:masters`, the controller-manager and the scheduler as their own users),
RBAC, the default admission plugins (Pod Security included) and service-account tokens signed with a
key made here. The controller-manager and the scheduler run only when their binaries are there; without
a controller-manager nothing creates the `default` ServiceAccounts, so the ServiceAccount admission
plugin is switched off, as envtest does, or every Pod would be refused for that alone.

`stop` ends the components (the twin calls it in `finally`, on Ctrl-C and SIGTERM too). Should the twin
die without unwinding (SIGKILL, out of memory), a small watchdog process (`python -m
infra.twin.envtest --watchdog PID STATE`) stops them instead, as the tools' `up --watch-pid` does.

Flags: Kubernetes v1.36 `kube-apiserver/kube-controller-manager/kube-scheduler --help` and
kubernetes/website `content/en/docs/reference/command-line-tools-reference/`; etcd's flags are the stock
names the kiva-k8s tools' etcd also takes.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import http.client
import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.twin.api import TwinError
from infra.twin.control_plane import ControlPlane

ASSETS_ENV = "KUBEBUILDER_ASSETS"
REQUIRED = ("etcd", "kube-apiserver")
PLACEMENT = ("kube-scheduler", "kube-controller-manager")
SERVICE_CIDR = "10.96.0.0/16"
ISSUER = "https://kubernetes.default.svc.cluster.local"
# Off as in the kiva-k8s tools (README, "How the components are wired"): node lifecycle would mark the
# kubelet-less fake nodes NotReady and evict their pods; the others need a cloud or a pod network, and
# the last is OpenShift's. Only names the binary lists are passed: it refuses unknown controllers.
SWITCHED_OFF = (
    "node-lifecycle-controller",
    "cloud-node-lifecycle-controller",
    "node-ipam-controller",
    "node-route-controller",
    "service-lb-controller",
    "service-ca-certificate-publisher-controller",
)
STOP_ORDER = (("kube-scheduler", "kube-controller-manager"), ("kube-apiserver",), ("etcd",))
PORT_TAKEN = re.compile(r"address already in use|bind: address|failed to listen", re.IGNORECASE)
ATTEMPTS = 3


def executables(assets: Path) -> dict[str, Path]:
    """The control-plane binaries the folder holds (executable files only)."""
    return {
        name: assets / name
        for name in (*REQUIRED, *PLACEMENT)
        if (assets / name).is_file() and os.access(assets / name, os.X_OK)
    }


def missing_required(assets: Path) -> list[str]:
    found = executables(assets)
    return [name for name in REQUIRED if name not in found]


@dataclass
class EnvtestPlane(ControlPlane):
    """Processes this module started; `stop` ends exactly those (SIGTERM, then SIGKILL) and removes state."""

    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    watchdog: subprocess.Popen[bytes] | None = None
    stop_timeout: float = 10.0

    def stop(self) -> None:
        if self.state is None:
            return
        state, self.state = self.state, None
        try:
            if self.watchdog is not None and self.watchdog.poll() is None:
                self.watchdog.kill()  # it must not act on a plane that is being stopped already
                self.watchdog.wait()
            for group in STOP_ORDER:
                running = [p for name, p in self.processes.items() if name in group and p.poll() is None]
                for process in running:
                    process.send_signal(signal.SIGTERM)
                for process in running:
                    try:
                        process.wait(self.stop_timeout)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
        except BaseException:  # a second Ctrl-C while stopping: no more grace, but nothing left behind
            for process in [*self.processes.values(), *([self.watchdog] if self.watchdog else [])]:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            raise
        finally:
            shutil.rmtree(state, ignore_errors=True)


def start(assets: Path, state: Path | None = None, timeout: float = 120) -> EnvtestPlane:
    """Start the control plane from `assets` in `state` (a new temporary dir by default).

    On failure everything started is stopped and a TwinError carries the end of the failing component's
    log; the caller must `stop()` the result (try/finally), which also removes `state`.
    """
    assets = assets.expanduser().absolute()  # the components run in `state`: no relative paths
    found = executables(assets)
    absent = [name for name in REQUIRED if name not in found]
    if absent:
        raise TwinError(f"kiva twin: {ASSETS_ENV}={assets}: no {' or '.join(absent)} executable there")
    state = state or Path(tempfile.mkdtemp(prefix="kiva-twin-envtest-"))
    missing = tuple(name for name in PLACEMENT if name not in found)
    plane = EnvtestPlane(
        kubeconfig=state / "kubeconfig",
        state=state,
        missing=missing,
        placement_gap=f"no {'/'.join(missing)} in {ASSETS_ENV} ({assets})" if missing else "",
    )
    try:
        (state / "pids").mkdir(mode=0o700, parents=True, exist_ok=True)
        plane.watchdog = subprocess.Popen(
            [sys.executable, "-m", __name__, "--watchdog", str(os.getpid()), str(state)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        version = _Starter(plane, state, found, timeout).run()
    except BaseException:
        plane.stop()
        raise
    running = ", ".join(name for name in (*REQUIRED, *PLACEMENT) if name in plane.processes)
    plane.description = f"envtest control plane from {ASSETS_ENV}={assets} ({running}; Kubernetes {version})"
    return plane


class _Starter:
    def __init__(
        self, plane: EnvtestPlane, state: Path, binaries: Mapping[str, Path], timeout: float
    ) -> None:
        self.plane, self.state, self.binaries = plane, state, binaries
        self.deadline = time.monotonic() + timeout
        self.ports: dict[str, int] = {}
        self.pki = state / "pki"
        self.tokens = {
            user: secrets.token_urlsafe(32) for user in ("admin", "controller-manager", "scheduler")
        }

    def run(self) -> str:
        for folder in (self.state, self.state / "logs", self.pki, self.state / "etcd"):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._write_pki()
        self._start("etcd", ["etcd-client", "etcd-peer"], self._etcd_argv, self._etcd_ready)
        self._start("kube-apiserver", ["apiserver"], self._apiserver_argv, self._apiserver_ready)
        self._write_kubeconfigs()
        components = {
            "kube-controller-manager": self._controller_manager_argv,
            "kube-scheduler": self._scheduler_argv,
        }
        for name, argv in components.items():
            if name in self.binaries:
                self._start(name, [name], argv, functools.partial(self._healthy, name))
        if "kube-controller-manager" in self.plane.processes:
            try:
                self._wait(
                    "kube-controller-manager",
                    lambda: self._get("/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
                    "did not create the ServiceAccount default/default",
                )
            except _Exited:
                self._fail("kube-controller-manager", "exited")
        status, body = self._get("/version")
        return str(json.loads(body).get("gitVersion", "?")) if status == 200 else "?"

    # --- credentials -------------------------------------------------------------------------------

    def _write_pki(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.datetime.now(datetime.UTC)
        ca_key, serving_key, sa_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiva-twin-ca")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        serving = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiva-twin-loopback")]))
            .issuer_name(ca_name)
            .public_key(serving_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )

        def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
            # "EC PRIVATE KEY": Kubernetes' key parsers (k8s.io/client-go/util/keyutil) take SEC 1 for EC
            # keys; a PKCS #8 "PRIVATE KEY" is refused as a service-account key
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )

        files = {
            "ca.crt": ca.public_bytes(serialization.Encoding.PEM),
            "serving.crt": serving.public_bytes(serialization.Encoding.PEM),
            "serving.key": key_pem(serving_key),
            "sa.key": key_pem(sa_key),
            "sa.pub": sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            # token,user,uid,"groups" (kube-apiserver --token-auth-file)
            "tokens.csv": (
                f'{self.tokens["admin"]},kiva-twin-admin,kiva-twin-admin,"system:masters"\n'
                f"{self.tokens['controller-manager']},system:kube-controller-manager,system:kube-controller-manager\n"
                f"{self.tokens['scheduler']},system:kube-scheduler,system:kube-scheduler\n"
            ).encode(),
        }
        for name, content in files.items():
            _write_private(self.pki / name, content)

    def _write_kubeconfigs(self) -> None:
        server = f"https://127.0.0.1:{self.ports['apiserver']}"
        for file, user, token in (
            ("kubeconfig", "kiva-twin-admin", "admin"),
            ("controller-manager.kubeconfig", "system:kube-controller-manager", "controller-manager"),
            ("scheduler.kubeconfig", "system:kube-scheduler", "scheduler"),
        ):
            config = {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "twin",
                        "cluster": {"server": server, "certificate-authority": str(self.pki / "ca.crt")},
                    }
                ],
                "users": [{"name": user, "user": {"token": self.tokens[token]}}],
                "contexts": [{"name": "twin", "context": {"cluster": "twin", "user": user}}],
                "current-context": "twin",
            }
            _write_private(self.state / file, json.dumps(config, indent=2).encode())

    # --- command lines -----------------------------------------------------------------------------

    def _etcd_argv(self) -> list[str]:
        client = f"http://127.0.0.1:{self.ports['etcd-client']}"
        peer = f"http://127.0.0.1:{self.ports['etcd-peer']}"
        return [
            str(self.binaries["etcd"]),
            "--name=twin",
            f"--data-dir={self.state / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=twin={peer}",
            "--initial-cluster-state=new",
            # a lone member elects itself after one election timeout; the data is thrown away
            "--heartbeat-interval=10",
            "--election-timeout=100",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]

    def _apiserver_argv(self) -> list[str]:
        pki = self.pki
        without_accounts = "kube-controller-manager" not in self.binaries
        return [
            str(self.binaries["kube-apiserver"]),
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd-client']}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.ports['apiserver']}",
            f"--tls-cert-file={pki / 'serving.crt'}",
            f"--tls-private-key-file={pki / 'serving.key'}",
            f"--token-auth-file={pki / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={ISSUER}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--endpoint-reconciler-type=none",
            # as on AKS; without it every privileged container is refused before Pod Security judges it
            "--allow-privileged=true",
            *(["--disable-admission-plugins=ServiceAccount"] if without_accounts else []),
        ]

    def _component_argv(self, name: str, kubeconfig: Path) -> list[str]:
        return [
            str(self.binaries[name]),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            # no client certificates here: do not look up the API server's client CA
            "--authentication-skip-lookup=true",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.ports[name]}",
            f"--tls-cert-file={self.pki / 'serving.crt'}",
            f"--tls-private-key-file={self.pki / 'serving.key'}",
            "--leader-elect=false",
        ]

    def _controller_manager_argv(self) -> list[str]:
        known = _known_controllers(self.binaries["kube-controller-manager"])
        off = [c for c in SWITCHED_OFF if c in known] if known else [SWITCHED_OFF[0]]
        return [
            *self._component_argv("kube-controller-manager", self.state / "controller-manager.kubeconfig"),
            f"--controllers={','.join(['*', *(f'-{c}' for c in off)])}",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={self.pki / 'sa.key'}",
            f"--root-ca-file={self.pki / 'ca.crt'}",
            f"--flex-volume-plugin-dir={self.state / 'flexvolume'}",
            # the default client rate limit (20 qps) slows the first minute of a cluster down
            "--kube-api-qps=200",
            "--kube-api-burst=400",
        ]

    def _scheduler_argv(self) -> list[str]:
        return self._component_argv("kube-scheduler", self.state / "scheduler.kubeconfig")

    # --- processes and readiness -------------------------------------------------------------------

    def _start(
        self, name: str, ports: list[str], argv: Callable[[], list[str]], ready: Callable[[], bool]
    ) -> None:
        """Start `name` on fresh ports until it is ready; a port taken meanwhile means another try."""
        for attempt in range(ATTEMPTS):
            self.ports.update(zip(ports, _free_ports(len(ports), set(self.ports.values())), strict=True))
            log = self.state / "logs" / f"{name}.log"
            with log.open("ab") as out:
                process = subprocess.Popen(
                    argv(),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.state,
                    start_new_session=True,  # Ctrl-C reaches only the twin, which stops them in order
                )
            self.plane.processes[name] = process
            (self.state / "pids" / f"{name}.pid").write_text(f"{process.pid}\n")
            try:
                self._wait(name, ready, "did not become ready")
                return
            except _Exited:
                if attempt + 1 < ATTEMPTS and PORT_TAKEN.search(_tail(log, 4000)):
                    continue
                self._fail(name, f"exited with status {process.returncode}")

    def _wait(self, name: str, check: Callable[[], bool], what: str) -> None:
        process = self.plane.processes[name]
        while True:
            if process.poll() is not None:
                raise _Exited
            try:
                if check() and process.poll() is None:
                    return
            except (OSError, http.client.HTTPException, ValueError):
                pass
            if time.monotonic() > self.deadline:
                self._fail(name, what)
            time.sleep(0.05)

    def _fail(self, name: str, what: str) -> None:
        log = self.state / "logs" / f"{name}.log"
        lines = _tail(log, 6000).splitlines()[-20:]
        raise TwinError(
            f"kiva twin: {name} from {self.binaries[name]} {what}; last lines of its log:\n"
            + "\n".join(f"    | {line[:300]}" for line in lines)
        )

    def _etcd_ready(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.ports["etcd-client"], timeout=2)
        try:
            connection.request("GET", "/health")
            reply = connection.getresponse()
            return reply.status == 200 and json.loads(reply.read()).get("health") == "true"
        finally:
            connection.close()

    def _tls(self) -> ssl.SSLContext:
        """Trusts only the CA made here, so a foreign process on a reused port never passes for ours."""
        return ssl.create_default_context(cafile=str(self.pki / "ca.crt"))

    def _get(self, path: str, port: int | None = None, token: bool = True) -> tuple[int, bytes]:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port or self.ports["apiserver"], context=self._tls(), timeout=3
        )
        try:
            headers = {"Authorization": f"Bearer {self.tokens['admin']}"} if token else {}
            connection.request("GET", path, headers=headers)
            reply = connection.getresponse()
            return reply.status, reply.read()
        finally:
            connection.close()

    def _apiserver_ready(self) -> bool:
        status, body = self._get("/readyz")
        return status == 200 and body.strip() == b"ok"

    def _healthy(self, name: str) -> bool:
        status, body = self._get("/healthz", self.ports[name], token=False)
        return status == 200 and body.strip() == b"ok"


class _Exited(Exception):
    """The component's process ended while the twin waited for it."""


def _known_controllers(binary: Path) -> set[str]:
    """Controller names from `kube-controller-manager --help` ("All controllers: a, b, …")."""
    try:
        text = subprocess.run(
            [str(binary), "--help"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    match = re.search(r"All controllers:\s*([^\n]*)", text)
    return {name.strip() for name in match.group(1).split(",")} if match else set()


def _free_ports(count: int, taken: set[int]) -> list[int]:
    """Free loopback ports below the kernel's ephemeral range (outgoing connections never take those)."""
    low, high = 20000, 32767
    try:
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
        high = min(high, ephemeral - 1)
        low = min(low, high - 4000)
    except (OSError, ValueError, IndexError):
        pass
    chosen: list[int] = []
    generator = random.SystemRandom()
    for _ in range(1000):
        port = generator.randint(low, high)
        if port in taken or port in chosen:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
        if len(chosen) == count:
            return chosen
    raise TwinError("kiva twin: no free loopback ports for the control plane")


def _key_usage(**usages: bool) -> Any:
    from cryptography import x509

    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{name: usages.get(name, False) for name in names})


def _tail(path: Path, size: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - size))
            return handle.read().decode(errors="replace")
    except OSError:
        return "(no log)"


def _write_private(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)


def _runs_in(pid: int, state: Path) -> bool:
    """Whether `pid` is a live process whose command line names `state` (ours, not a reused PID)."""
    try:
        return str(state).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def watchdog(parent: int, state: Path, timeout: float = 10.0) -> None:
    """Wait for `parent` to go; if it left its plane running, stop the components in order, remove state."""
    while os.getppid() == parent:
        time.sleep(0.5)
    if not state.is_dir():
        return
    pids = {}
    for file in (state / "pids").glob("*.pid"):
        try:
            pids[file.stem] = int(file.read_text())
        except (OSError, ValueError):
            continue
    for group in STOP_ORDER:
        targets = [pid for name, pid in pids.items() if name in group and _runs_in(pid, state)]
        for pid in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(_runs_in(pid, state) for pid in targets) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in targets:
            if _runs_in(pid, state):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__" and sys.argv[1:2] == ["--watchdog"]:
    watchdog(int(sys.argv[2]), Path(sys.argv[3]))
