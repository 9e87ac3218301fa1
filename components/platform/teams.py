"""Gateway teams and service keys as code: Pulumi dynamic resources over LiteLLM's management API.

`GatewayTeam` and `GatewayKey` are reconciled at `pulumi up` from where Pulumi runs (outside the cluster),
with the master key as bearer token, against the endpoints of LiteLLM 1.90.6 (installed package,
`litellm/proxy/management_endpoints/`):

- `team_endpoints.py`: `POST /team/new` (`NewTeamRequest`; 400 "Team id = … already exists"),
  `POST /team/update` (`UpdateTeamRequest`; `data.json(exclude_unset=True)`, so an explicit `null` clears
  a limit), `POST /team/delete` (`DeleteTeamRequest.team_ids`; deletes the team's keys too; 404 for an
  unknown team), `GET /team/info?team_id=` (`{"team_id", "team_info": {...}, "keys": [...]}`; 404).
- `key_management_endpoints.py`: `POST /key/generate` (`GenerateKeyRequest`; the response's `key` is the
  only time the raw key is shown, `token_id`/`token` its hash, lines 965-967), `POST /key/update`
  (`UpdateKeyRequest.key` takes the raw key or its hash), `POST /key/delete` (`KeyRequest.keys`),
  `GET /key/info?key=` (raw key or hash; `{"key", "info": {...}}`; 404 "Key not found in database").

Every `diff` reads the live object, so that `pulumi preview` shows drift (a budget changed in the UI) as
an update; a team or key deleted on the gateway is replaced. A key's value exists only in the `key`
output, a Pulumi secret, which the platform delivers into the cloud's secret manager (the contract's
`service_key_store`, Key Vault on Azure) or else a Kubernetes Secret; an update never regenerates it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from components.contracts import PLATFORM_NAMESPACE, ServiceKeyStore
from components.platform.common import child_opts

#: Prefix of the team ids the stack owns on the gateway (`team_id` = prefix + alias).
TEAM_ID_PREFIX = "kiva-"
#: The fields of a team the stack manages, as LiteLLM names them (`TeamBase`, `litellm/models/team.py`).
TEAM_FIELDS = ("team_alias", "models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit")
#: The fields of a key the stack manages (`GenerateRequestBase`, `litellm/proxy/_types.py`).
KEY_FIELDS = ("key_alias", "models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit")
#: Seconds one management call may take.
TIMEOUT = 30


class GatewayError(Exception):
    """A management call failed; the message names the call and the gateway's answer (never the key)."""


@dataclass(frozen=True)
class ManagementApi:
    """LiteLLM's management API at `url`, authenticated with the master key as bearer token."""

    url: str
    master_key: str

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None, **query: str) -> Any:
        """The JSON answer of one call, or `None` for 404 (the object does not exist)."""
        target = f"{self.url.rstrip('/')}{path}"
        if query:
            target += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(
            target,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.master_key}", "Content-Type": "application/json"},
        )
        try:
            # The settings allow http(s) URLs only (`gatewayAdminUrl`, or https://<ingress host>).
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            detail = error.read().decode(errors="replace")[:500]
            raise GatewayError(f"{method} {path} at {self.url}: HTTP {error.code}: {detail}") from None
        except urllib.error.URLError as error:
            raise GatewayError(
                f"{method} {path}: the gateway's management API at {self.url} is unreachable ({error.reason}); "
                "set kiva:gatewayAdminUrl to a URL reachable from where `pulumi up` runs"
            ) from None


def _api(props: Mapping[str, Any]) -> ManagementApi:
    return ManagementApi(str(props["admin_url"]), str(props["master_key"]))


def _desired(props: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {field: props.get(field) for field in fields}


def _drift(live: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """The managed fields whose live value differs from the desired one (numbers compared as numbers)."""

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, int | float) and isinstance(b, int | float):
            return float(a) == float(b)
        if isinstance(a, list) and isinstance(b, list):
            return sorted(map(str, a)) == sorted(map(str, b))
        return bool(a == b)

    return [field for field, value in desired.items() if not same(live.get(field), value)]


def read_team(api: ManagementApi, team_id: str) -> dict[str, Any] | None:
    answer = api.call("GET", "/team/info", team_id=team_id)
    return None if answer is None else dict(answer.get("team_info") or {})


def read_key(api: ManagementApi, token: str) -> dict[str, Any] | None:
    answer = api.call("GET", "/key/info", key=token)
    return None if answer is None else dict(answer.get("info") or {})


class TeamProvider(ResourceProvider):
    """Creates, reads, updates and deletes one LiteLLM team; adopts a team of the same id if it exists."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        api, team_id = _api(props), str(props["team_id"])
        desired = _desired(props, TEAM_FIELDS)
        live = read_team(api, team_id)
        if live is None:
            api.call("POST", "/team/new", {"team_id": team_id, **desired})
        elif _drift(live, desired):
            api.call("POST", "/team/update", {"team_id": team_id, **desired})
        return CreateResult(team_id, dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = read_team(_api(props), id_)
        if live is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, **{field: live.get(field) for field in TEAM_FIELDS}})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if olds.get("team_id") != news.get("team_id"):
            return DiffResult(changes=True, replaces=["team_id"], delete_before_replace=True)
        live = read_team(_api(news), id_)
        if live is None:  # deleted on the gateway: create it again
            return DiffResult(changes=True, replaces=["team_id"], delete_before_replace=True)
        return DiffResult(changes=bool(_drift(live, _desired(news, TEAM_FIELDS))))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _api(news).call("POST", "/team/update", {"team_id": id_, **_desired(news, TEAM_FIELDS)})
        return UpdateResult(dict(news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Deletes the team and, on the gateway, every key of it (`delete_team` in team_endpoints.py)."""
        api = _api(props)
        if read_team(api, id_) is not None:
            api.call("POST", "/team/delete", {"team_ids": [id_]})


class KeyProvider(ResourceProvider):
    """Generates one key once; updates change its limits, never its value; delete revokes it."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        body = {
            "team_id": props["team_id"],
            **_desired(props, KEY_FIELDS),
            "metadata": {"managed-by": "kiva"},
        }
        answer = _api(props).call("POST", "/key/generate", body)
        if not answer or not answer.get("key") or not answer.get("token_id"):
            raise GatewayError(f"POST /key/generate returned no key for {props['key_alias']!r}")
        return CreateResult(str(answer["token_id"]), {**props, "key": answer["key"]})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = read_key(_api(props), id_)
        if live is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, **{field: live.get(field) for field in (*KEY_FIELDS, "team_id")}})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if olds.get("team_id") != news.get("team_id"):
            return DiffResult(changes=True, replaces=["team_id"], delete_before_replace=True)
        live = read_key(_api(news), id_)
        if live is None:  # revoked on the gateway: generate a new one (a new value in the Secret)
            return DiffResult(changes=True, replaces=["key_alias"], delete_before_replace=True)
        return DiffResult(changes=bool(_drift(live, _desired(news, KEY_FIELDS))))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _api(news).call("POST", "/key/update", {"key": id_, **_desired(news, KEY_FIELDS)})
        return UpdateResult({**news, "key": olds.get("key")})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        api = _api(props)
        if read_key(api, id_) is not None:
            api.call("POST", "/key/delete", {"keys": [id_]})


class GatewayTeam(Resource, module="kiva", name="GatewayTeam"):
    """A LiteLLM team (type `pulumi-python:dynamic/kiva:GatewayTeam`)."""

    team_id: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TeamProvider(), name, dict(props), opts)


class GatewayKey(Resource, module="kiva", name="GatewayKey"):
    """A LiteLLM key of a team (type `pulumi-python:dynamic/kiva:GatewayKey`); `key` is a Pulumi secret."""

    key: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["key"]))
        super().__init__(KeyProvider(), name, {**props, "key": None}, opts)


@dataclass(frozen=True)
class KeySpec:
    name: str
    models: tuple[str, ...]
    max_budget: float | None
    budget_duration: str | None
    rpm_limit: int | None
    tpm_limit: int | None


@dataclass(frozen=True)
class TeamSpec:
    alias: str
    models: tuple[str, ...]
    max_budget: float
    budget_duration: str
    rpm_limit: int | None
    tpm_limit: int | None
    keys: tuple[KeySpec, ...]


@dataclass(frozen=True)
class TeamsArgs:
    """The teams to reconcile, and how `pulumi up` reaches the management API."""

    admin_url: str
    """`https://<ingress host>` or `kiva:gatewayAdminUrl`: reachable from where `pulumi up` runs."""
    master_key: pulumi.Input[str]
    """The gateway's master key (a Pulumi secret), the bearer token of every management call."""
    teams: tuple[TeamSpec, ...]
    key_store: ServiceKeyStore | None = None
    """Where the keys go: the cloud's secret manager, or `None` for Kubernetes Secrets."""


def key_secret_name(team: str, key: str) -> str:
    """The secret that holds a service key: in the secret manager, or a Kubernetes Secret (platform
    namespace) with the value under `api-key`."""
    return f"kiva-key-{team}-{key}"


class GatewayTeams(pulumi.ComponentResource):
    """Every configured team and service key on the gateway, each key delivered as a secret.

    Keys go where the cloud layer can write them (`TeamsArgs.key_store`: Key Vault on Azure), else into
    Kubernetes Secrets in the platform namespace; never into a ConfigMap, an output or a log.
    """

    def __init__(
        self,
        name: str,
        args: TeamsArgs,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:GatewayTeams", name, None, opts)
        secret_key = pulumi.Output.secret(args.master_key)
        self.teams: dict[str, GatewayTeam] = {}
        self.keys: dict[str, GatewayKey] = {}
        for team in args.teams:
            common = {"admin_url": args.admin_url, "master_key": secret_key}
            gateway_team = GatewayTeam(
                f"{name}-{team.alias}",
                {
                    **common,
                    "team_id": f"{TEAM_ID_PREFIX}{team.alias}",
                    "team_alias": team.alias,
                    "models": list(team.models),
                    "max_budget": team.max_budget,
                    "budget_duration": team.budget_duration,
                    "rpm_limit": team.rpm_limit,
                    "tpm_limit": team.tpm_limit,
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
            )
            self.teams[team.alias] = gateway_team
            for key in team.keys:
                gateway_key = GatewayKey(
                    f"{name}-{team.alias}-{key.name}",
                    {
                        **common,
                        "team_id": gateway_team.team_id,
                        "key_alias": f"{team.alias}/{key.name}",
                        "models": list(key.models),
                        "max_budget": key.max_budget,
                        "budget_duration": key.budget_duration,
                        "rpm_limit": key.rpm_limit,
                        "tpm_limit": key.tpm_limit,
                    },
                    opts=pulumi.ResourceOptions(parent=self),
                )
                self.keys[f"{team.alias}/{key.name}"] = gateway_key
                api_key: pulumi.Output[str] = pulumi.Output.secret(gateway_key.key)
                self._deliver(f"{name}-{team.alias}-{key.name}-secret", team.alias, key.name, api_key, args)
        self.register_outputs({"teams": sorted(self.teams)})

    def _deliver(
        self, resource_name: str, team: str, key: str, api_key: pulumi.Output[str], args: TeamsArgs
    ) -> None:
        secret_name = key_secret_name(team, key)
        if args.key_store is not None:
            args.key_store.write(resource_name, secret_name, api_key, child_opts(self))
            return
        k8s.core.v1.Secret(
            resource_name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=secret_name,
                namespace=PLATFORM_NAMESPACE,
                labels={"app.kubernetes.io/managed-by": "pulumi", "kiva.platform/team": team},
            ),
            type="Opaque",
            string_data={"api-key": api_key},
            opts=child_opts(self),
        )
