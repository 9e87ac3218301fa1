"""A thin layer over the official `kubernetes` client: raw requests with status, body and `Warning` headers.

The generated typed APIs hide what the twin reports (the `Warning` headers Pod Security sends, the exact
message of a rejection), and they know no custom resources, so every call goes through `ApiClient` with
a path found by API discovery. Works with any kubeconfig the client reads (tokens, client certificates).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

FIELD_MANAGER = "kiva-twin"
T = TypeVar("T")


class TwinError(Exception):
    """A user-facing failure of the twin itself (not a finding about the plan): exit 2."""


@dataclass
class Reply:
    status: int
    json: Any
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        if isinstance(self.json, Mapping):
            return str(self.json.get("message") or self.json)
        return str(self.json)


_WARNING = re.compile(r'^\s*\d{3}\s+\S+\s+"(?P<text>(?:[^"\\]|\\.)*)"')


def parse_warning(header: str) -> str:
    """The text of one RFC 7234 `Warning` header as the API server writes it (`299 - "text"`)."""
    match = _WARNING.match(header)
    return match.group("text").replace('\\"', '"') if match else header


@dataclass(frozen=True)
class ApiResource:
    group_version: str
    name: str  # plural
    kind: str
    namespaced: bool


class Api:
    """Requests against one cluster, with a discovery cache (refreshed when a kind is not found)."""

    def __init__(self, kubeconfig: Path) -> None:
        from kubernetes import config

        try:
            self.client = config.new_client_from_config(config_file=str(kubeconfig))
        except Exception as error:  # the client raises ConfigException and plain errors alike
            raise TwinError(f"kubeconfig {kubeconfig}: {error}") from None
        self._resources: dict[tuple[str, str], ApiResource] = {}

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> Reply:
        url_path = f"{path}?{urlencode(query)}" if query else path
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        method, url, headers, _, _ = self.client.param_serialize(
            method, url_path, header_params=headers, auth_settings=["BearerToken"]
        )
        # the REST layer serialises a dict body itself for JSON and structured-YAML content types
        response = self.client.call_api(
            method, url, header_params=headers, body=body, _request_timeout=timeout
        )
        raw = response.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode("utf-8", "replace")
        warnings = [parse_warning(h) for h in response.headers.getlist("Warning")]
        return Reply(response.status, payload, warnings)

    def get(self, path: str, **query: str) -> Reply:
        return self.request("GET", path, query=query or None)

    # discovery -------------------------------------------------------------------------------------

    def discover(self) -> None:
        found: dict[tuple[str, str], ApiResource] = {}
        versions = ["v1"]
        groups = self.get("/apis").json or {}
        versions += [v["groupVersion"] for g in groups.get("groups", []) for v in g.get("versions", [])]
        for group_version in versions:
            base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
            reply = self.get(base)
            if not reply.ok:
                continue  # an aggregated API that is not served (no backend in the twin)
            for resource in reply.json.get("resources", []):
                if "/" in resource["name"]:
                    continue
                found[(group_version, resource["kind"])] = ApiResource(
                    group_version, resource["name"], resource["kind"], bool(resource["namespaced"])
                )
        self._resources = found

    def resource(self, api_version: str, kind: str) -> ApiResource | None:
        key = (api_version, kind)
        if key not in self._resources:
            self.discover()
        return self._resources.get(key)

    def collection_path(self, resource: ApiResource, namespace: str | None) -> str:
        base = "/api/v1" if resource.group_version == "v1" else f"/apis/{resource.group_version}"
        if resource.namespaced:
            return f"{base}/namespaces/{namespace}/{resource.name}"
        return f"{base}/{resource.name}"

    # writes ------------------------------------------------------------------------------------------

    def apply(self, obj: Mapping[str, Any], path: str) -> Reply:
        """Server-side apply, strict field validation, our field manager, conflicts forced.

        SSA answers HTTP 500 for an unknown field of a custom resource (kubernetes/kubernetes#122480):
        callers treat every non-2xx reply as a rejection and report its message.
        """
        return self.request(
            "PATCH",
            path,
            body=obj,
            query={"fieldManager": FIELD_MANAGER, "fieldValidation": "Strict", "force": "true"},
            content_type="application/apply-patch+yaml",
        )


def wait_for(check: Callable[[], T | None], timeout: float, interval: float = 0.2) -> T | None:
    """Poll `check` until it returns something truthy or `timeout` seconds pass (then None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)
