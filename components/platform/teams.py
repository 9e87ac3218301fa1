"""Gateway teams and service keys as code: Pulumi dynamic resources over LiteLLM's management API.

`GatewayTeam` and `GatewayKey` are reconciled at `pulumi up` from where Pulumi runs (outside the cluster),
with the master key as bearer token, against the endpoints of LiteLLM 1.108.7 (installed package,
`litellm/proxy/management_endpoints/`, line numbers of that version):

- `team_endpoints.py`: `POST /team/new` (`NewTeamRequest`; 400 "Team id = … already exists", line 1651),
  `POST /team/update` (`UpdateTeamRequest`; `data.json(exclude_unset=True)`, line 2565, so an explicit
  `null` clears a limit and an omitted field is left alone), `POST /team/delete` (`DeleteTeamRequest.team_ids`;
  deletes and archives the team's keys too; 404 for an unknown team, line 4562; answers
  `{"deleted_teams": [...]}`, line 4688), `GET /team/info?team_id=` (`{"team_id", "team_info", "keys",
  "team_memberships"}`; 404, line 5115).
- `key_management_endpoints.py`: `POST /key/generate` (`GenerateKeyRequest`; the answer's `key` is the only
  time the raw key is shown, `token_id` and `token` its hash, line 1678), `POST /key/update`
  (`UpdateKeyRequest.key` takes the raw key or its hash), `POST /key/delete` (`KeyRequest.keys`; 404 "No keys
  found" for unknown ones, line 5301), `GET /key/info?key=` (`{"key", "info": {...}}`; the docstring at
  line 4637 asks for the hash, so the raw key stays out of URLs and access logs).

What changed since 1.90.6 and matters here: `/key/info` of a deleted key now answers 200 from the archive
with `info.status == "deleted"` (line 4718, `_find_deleted_key_info`) instead of 404, so `read_key` treats
that status as gone, and `diff` a key blocked in the UI (`status: "revoked"`) or past an expiry set there
(`"expired"`, `_derive_key_status`, line 6821) as one to replace; every budget write now rejects a period
LiteLLM cannot reset with 400 (`validate_budget_duration`, `common_utils.py:28`, e.g. `2mo`); and
resending an unchanged `budget_duration` in an update still moves the next reset from now
(`_set_budget_reset_at`, team_endpoints.py:2824, and `prepare_key_update_data`, key_management_endpoints.py:2747; both keep only a
reset that is already due, `keeps_due_budget_reset` in `proxy/common_utils/timezone_utils.py:85`). Updates
therefore send only the fields that differ from the live object, so that changing a rate limit does not
postpone a team's or key's budget reset.

Every `diff` reads the live object, so that `pulumi preview` shows drift (a budget changed in the UI) as
an update; a team or key deleted on the gateway is replaced, and so is a key that was blocked or has
expired there (a new value; the old key is deleted, never unblocked). A key's value exists only in the
`key` output, a Pulumi secret, which the platform delivers into the cloud's secret manager (the contract's
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
#: The fields of a team the stack manages, as LiteLLM names them (`TeamBase`, `litellm/models/team.py:63`;
#: `UpdateTeamRequest`, `litellm/proxy/_types.py:1934`).
TEAM_FIELDS = ("team_alias", "models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit")
#: The fields of a key the stack manages (`GenerateRequestBase`,
#: `litellm/types/proxy/management_endpoints/request_base.py:24`).
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

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        absent_ok: bool = False,
        **query: str,
    ) -> Any:
        """The JSON answer of one call; `None` for 404 where `absent_ok` (a read, or a delete of what is gone).

        A 404 elsewhere (an update of a team or key that vanished in between) is an error, not a success.
        """
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
            if error.code == 404 and absent_ok:
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


def _changes(live: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The body of an update: only the drifted fields (an unchanged `budget_duration` would move the reset)."""
    return {field: desired[field] for field in _drift(live, desired)}


def _send_changes(
    api: ManagementApi,
    path: str,
    ident: Mapping[str, str],
    live: Mapping[str, Any] | None,
    desired: Mapping[str, Any],
    what: str,
) -> None:
    """An update sends the drifted fields only; an object deleted on the gateway meanwhile is an error."""
    if live is None:
        raise GatewayError(f"{what} was deleted on the gateway during the update; run `pulumi up` again")
    if changes := _changes(live, desired):
        api.call("POST", path, {**ident, **changes})


def read_team(api: ManagementApi, team_id: str) -> dict[str, Any] | None:
    answer = api.call("GET", "/team/info", absent_ok=True, team_id=team_id)
    return None if answer is None else dict(answer.get("team_info") or {})


def read_key(api: ManagementApi, token: str) -> dict[str, Any] | None:
    """The live key by its hash (never the raw key: a query string ends up in access logs), or `None`.

    LiteLLM 1.108.7 answers a deleted key from its archive with `status: "deleted"` instead of 404
    (`info_key_fn`, key_management_endpoints.py:4718-4745); such a key no longer authenticates.
    """
    answer = api.call("GET", "/key/info", absent_ok=True, key=token)
    if answer is None:
        return None
    info = dict(answer.get("info") or {})
    return None if info.get("status") == "deleted" else info


def key_refused(info: Mapping[str, Any]) -> bool:
    """Whether the gateway refuses the live key: blocked in the UI (`revoked`) or past its expiry.

    Such a key is replaced rather than unblocked: an operator who blocks a key (a leaked one, say) gets a
    new value at the next `pulumi up`, and the blocked key is deleted instead of being let back in.
    """
    return info.get("status") in ("revoked", "expired")


class TeamProvider(ResourceProvider):
    """Creates, reads, updates and deletes one LiteLLM team; adopts a team of the same id if it exists."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        api, team_id = _api(props), str(props["team_id"])
        desired = _desired(props, TEAM_FIELDS)
        live = read_team(api, team_id)
        if live is None:
            api.call("POST", "/team/new", {"team_id": team_id, **desired})
        elif changes := _changes(live, desired):
            api.call("POST", "/team/update", {"team_id": team_id, **changes})
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
        api = _api(news)
        live = read_team(api, id_)
        _send_changes(
            api, "/team/update", {"team_id": id_}, live, _desired(news, TEAM_FIELDS), f"team {id_!r}"
        )
        return UpdateResult(dict(news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Deletes the team and, on the gateway, every key of it (`delete_team` in team_endpoints.py)."""
        api = _api(props)
        if read_team(api, id_) is not None:
            api.call("POST", "/team/delete", {"team_ids": [id_]}, absent_ok=True)


class KeyProvider(ResourceProvider):
    """Generates one key once; updates change its limits, never its value; delete revokes it."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        # Unset limits go as explicit nulls. For `budget_duration` 1.108.7 keeps that null even where the
        # proxy config sets `default_key_generate_params` (`_common_key_generation_helper`,
        # key_management_endpoints.py:1338-1343); the stack's gateway config sets no such defaults.
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
        if live is None or key_refused(live):  # generate a new one (a new value in the Secret)
            return DiffResult(changes=True, replaces=["key_alias"], delete_before_replace=True)
        return DiffResult(changes=bool(_drift(live, _desired(news, KEY_FIELDS))))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        api = _api(news)
        live = read_key(api, id_)
        _send_changes(
            api,
            "/key/update",
            {"key": id_},
            live,
            _desired(news, KEY_FIELDS),
            f"key {news.get('key_alias')!r}",
        )
        return UpdateResult({**news, "key": olds.get("key")})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        api = _api(props)
        if read_key(api, id_) is not None:
            api.call("POST", "/key/delete", {"keys": [id_]}, absent_ok=True)


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
