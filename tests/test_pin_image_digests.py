"""scripts/pin_image_digests.py against a local registry double on 127.0.0.1.

The double implements what the script relies on: `HEAD /v2/<name>/manifests/<tag>` that answers 401 with
`WWW-Authenticate: Bearer realm=…,service=…,scope=…` without a token, a token endpoint that hands out an
anonymous pull token for that scope, `Docker-Content-Digest` (the sha256 of the manifest it would serve)
on the authorised HEAD, and a repository whose HEAD omits the header (the script must hash the GET body).

What this cannot prove: that Docker Hub, ghcr.io or nvcr.io answer exactly like the
double (their token realms, rate limits, TLS, whether a vendor registry allows anonymous pulls at all), nor
which digests they serve. Those are only known by running the script with registry access, which this
build environment does not have; prod carries a reviewed exception until then.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scripts.pin_image_digests import (
    ACCEPT,
    Reference,
    RegistryError,
    main,
    pin,
    replace_block,
)

ROOT = Path(__file__).resolve().parents[1]
SERVICE = "double-registry"
INDEX = "application/vnd.oci.image.index.v1+json"


def manifest(name: str, tag: str) -> bytes:
    """The index the double serves for name:tag (its digest is what the script must report)."""
    return json.dumps(
        {"schemaVersion": 2, "mediaType": INDEX, "manifests": [], "kiva": f"{name}:{tag}"}
    ).encode()


def digest(name: str, tag: str) -> str:
    return "sha256:" + hashlib.sha256(manifest(name, tag)).hexdigest()


class Registry(BaseHTTPRequestHandler):
    log: list[str]

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def _token_for(self, name: str) -> str:
        return f"anon-{name}"

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/token":
            query = urllib.parse.parse_qs(url.query)
            self.log.append(f"token {query.get('service')} {query.get('scope')}")
            scope = query.get("scope", [""])[0]
            if query.get("service") != [SERVICE] or not scope.endswith(":pull"):
                self._answer(400, b"{}")
                return
            name = scope.removeprefix("repository:").removesuffix(":pull")
            self._answer(200, json.dumps({"access_token": self._token_for(name)}).encode())
            return
        self._manifest(send_body=True)

    def do_HEAD(self) -> None:
        self._manifest(send_body=False)

    def _manifest(self, send_body: bool) -> None:
        parts = self.path.split("/manifests/")
        name, tag = parts[0].removeprefix("/v2/"), parts[-1]
        self.log.append(f"{self.command} {name}:{tag} auth={self.headers.get('Authorization')}")
        if self.headers.get("Authorization") != f"Bearer {self._token_for(name)}":
            host, port = self.server.server_address[:2]
            challenge = f'Bearer realm="http://{host}:{port}/token",service="{SERVICE}",scope="repository:{name}:pull"'
            self._answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
            return
        if INDEX not in self.headers.get("Accept", "") or tag == "missing":
            self._answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            return
        headers = {"Content-Type": INDEX}
        if not name.startswith("nodigest/"):
            headers["Docker-Content-Digest"] = digest(name, tag)
        self._answer(200, manifest(name, tag) if send_body else b"", headers)

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@pytest.fixture
def registry() -> Iterator[tuple[str, list[str]]]:
    log: list[str] = []
    handler = type("LoggedRegistry", (Registry,), {"log": log})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()


def test_references_are_normalised_like_docker() -> None:
    assert Reference.parse("valkey/valkey", "8.1.11-alpine") == Reference(
        "docker.io", "valkey/valkey", "8.1.11-alpine"
    )
    assert Reference.parse("busybox", "1.37") == Reference("docker.io", "library/busybox", "1.37")
    assert Reference.parse("ghcr.io/cloudnative-pg/postgresql", "17.6") == Reference(
        "ghcr.io", "cloudnative-pg/postgresql", "17.6"
    )
    assert Reference.parse("localhost:5000/x", "1") == Reference("localhost:5000", "x", "1")


def test_token_flow_then_head_gives_the_manifest_digest(registry: tuple[str, list[str]]) -> None:
    url, log = registry
    found = pin({"cache": ("valkey/valkey", "8.1.11-alpine")}, {"docker.io": url})
    assert found == {"valkey/valkey:8.1.11-alpine": digest("valkey/valkey", "8.1.11-alpine")}
    assert log == [
        "HEAD valkey/valkey:8.1.11-alpine auth=None",
        "token ['double-registry'] ['repository:valkey/valkey:pull']",
        "HEAD valkey/valkey:8.1.11-alpine auth=Bearer anon-valkey/valkey",
    ]
    assert ACCEPT.startswith(
        "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"
    )


def test_without_the_digest_header_the_manifest_body_is_hashed(registry: tuple[str, list[str]]) -> None:
    url, log = registry
    found = pin({"x": ("ghcr.io/nodigest/app", "1.0")}, {"ghcr.io": url})
    assert found == {"ghcr.io/nodigest/app:1.0": digest("nodigest/app", "1.0")}
    assert log[-1] == "GET nodigest/app:1.0 auth=Bearer anon-nodigest/app"


def test_an_unknown_tag_fails_naming_the_image_and_the_answer(registry: tuple[str, list[str]]) -> None:
    url, _ = registry
    with pytest.raises(RegistryError) as error:
        pin({"gateway (LiteLLM)": ("ghcr.io/acme/app", "missing")}, {"ghcr.io": url})
    assert str(error.value) == (
        f"gateway (LiteLLM) (ghcr.io/acme/app:missing): HEAD {url}/v2/acme/app/manifests/missing answered 404"
    )


def test_main_rewrites_only_the_block_and_versions_renders_the_digest(
    registry: tuple[str, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every image infra/versions.py renders, resolved against the double and written into a copy."""
    url, _ = registry
    copy = tmp_path / "versions.py"
    original = (ROOT / "infra" / "versions.py").read_text()
    copy.write_text(original)
    hosts = ["docker.io", "ghcr.io"]
    status = main(["--versions", str(copy), *(f"--endpoint={h}={url}" for h in hosts)])
    assert status == 0, capsys.readouterr().err
    spec = importlib.util.spec_from_file_location("pinned_versions", copy)
    assert spec is not None and spec.loader is not None
    pinned: Any = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = pinned  # dataclasses resolve their module while the class is built
    try:
        spec.loader.exec_module(pinned)
    finally:
        del sys.modules[spec.name]
    valkey_tag = f"{pinned.VALKEY_VERSION}-alpine"
    rendered = pinned.VALKEY_IMAGE
    assert rendered == f"valkey/valkey:{valkey_tag}@{digest('valkey/valkey', valkey_tag)}"
    assert pinned.LITELLM_IMAGE.endswith("@" + digest("berriai/litellm", f"v{pinned.LITELLM_VERSION}"))
    assert all("@sha256:" in ref for ref in pinned.POSTGRES_IMAGES.values())
    assert len(pinned.IMAGE_DIGESTS) == len(pinned.IMAGES)
    # outside the block the file is unchanged: emptying the block again gives the original back
    assert replace_block(copy.read_text(), {}, "copy") == original


def test_a_registry_failure_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "versions.py"
    copy.write_text((ROOT / "infra" / "versions.py").read_text())
    before = copy.read_text()
    # port 9 on 127.0.0.1 (discard) is closed here: the connection is refused, no registry is asked
    hosts = ["docker.io", "ghcr.io"]
    assert main(["--versions", str(copy), *(f"--endpoint={h}=http://127.0.0.1:9" for h in hosts)]) == 1
    assert "nothing written" in capsys.readouterr().err
    assert copy.read_text() == before


def test_bad_endpoint_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--versions", str(ROOT / "infra" / "versions.py"), "--endpoint", "docker.io"]) == 2
    assert (
        "--endpoint 'docker.io' must be HOST=URL, e.g. docker.io=https://mirror.example.org"
        in capsys.readouterr().err
    )


def test_the_shipped_block_is_what_the_script_writes_and_holds_only_real_images() -> None:
    """No digest is typed in by hand: the block is the script's output, and every key is a rendered image."""
    from infra import versions

    text = (ROOT / "infra" / "versions.py").read_text()
    assert replace_block(text, versions.IMAGE_DIGESTS, "versions.py") == text
    assert set(versions.IMAGE_DIGESTS) <= {i.tagged for i in versions.IMAGES.values()}


def test_a_malformed_digest_is_rejected_with_the_key_and_the_form() -> None:
    from infra.versions import Image

    with pytest.raises(ValueError) as error:
        Image("valkey/valkey", "8.1.11-alpine", "sha256:abc")
    assert str(error.value) == (
        "infra/versions.py IMAGE_DIGESTS['valkey/valkey:8.1.11-alpine']: 'sha256:abc' is not a digest; expected "
        "`sha256:` and 64 lowercase hex digits as scripts/pin_image_digests.py writes it, e.g. 'sha256:' + 64 "
        "characters of 0-9a-f"
    )
    assert (
        Image("valkey/valkey", "8", "sha256:" + "ab" * 32).reference == f"valkey/valkey:8@sha256:{'ab' * 32}"
    )
