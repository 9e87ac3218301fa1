"""The team and key providers (`components/platform/teams.py`) against a test double of LiteLLM's API.

The double is a stdlib HTTP server on 127.0.0.1 that implements only the management endpoints the
providers call, as LiteLLM 1.108.7 implements them (installed package; `team_endpoints.py` and
`key_management_endpoints.py` in `litellm/proxy/management_endpoints/`, line numbers of that version).
It validates every request body with LiteLLM's own pydantic request models (`NewTeamRequest`,
`UpdateTeamRequest`, `DeleteTeamRequest`, `KeyRequest` in `litellm/proxy/_types.py`; `GenerateKeyRequest`,
`UpdateKeyRequest` in `litellm/types/proxy/management_endpoints/key_requests.py`) and its own period check
(`budget_duration_error`, `litellm/proxy/common_utils/timezone_utils.py:106`), so a wrong type is a 422
and a period LiteLLM cannot reset a 400, as on the gateway.

Those models do not forbid unknown fields (no `extra="forbid"`; pydantic's default drops them), so the
gateway silently ignores a misnamed field and answers 200. The double answers the same, but records every
ignored field, and the fixture fails any test that sent one; likewise a raw key in a `/key/info` URL
(the endpoint's docstring, line 4637, asks for the hash, since query strings end up in access logs).

- `POST /team/new`: 400 "Team id = … already exists" (line 1651); sets `budget_reset_at` where
  `budget_duration` is set (line 1833).
- `POST /team/update`: applies `data.json(exclude_unset=True)` (line 2565), so `null` clears and an
  omitted field stays; a sent `budget_duration` moves `budget_reset_at` unless the stored reset is due
  (`_set_budget_reset_at`, line 2824); 404 for an unknown team (line 2389).
- `POST /team/delete`: `team_ids`; 404 `{"detail": {"error": "Team not found, …"}}` (line 4562, raised
  outside any handler, so FastAPI's own shape); archives and deletes the team's keys; answers
  `{"deleted_teams": [...]}` (line 4688).
- `GET /team/info?team_id=`: `{"team_id", "team_info", "keys", "team_memberships"}`; 404 (line 5115).
- `POST /key/generate`: unique `key_alias` among live keys (400, `_enforce_unique_key_alias`, line 8153);
  the answer's `key` is the raw key, `token_id` and `token` its hash (line 1678).
- `POST /key/update`: `key` is the raw key or its hash; 404 "Key not found." (`_get_and_validate_existing_key`);
  a sent `budget_duration` moves the key's reset like a team's (`prepare_key_update_data`, line 2747).
- `POST /key/delete`: `keys`; 404 "No keys found" when none exists (line 5301); archives the keys.
- `GET /key/info?key=`: `{"key", "info"}` with `info.status`; a deleted key answers 200 from the archive
  with status `deleted` (line 4718); 404 "Key not found in database" only for a key never seen.
- Errors raised through `handle_exception_on_proxy` (`litellm/proxy/utils.py:9252`) have the shape
  `{"error": {"message", "type", "param", "code"}}`; every call needs `Authorization: Bearer <master key>`
  (401, `auth_exception_handler.py:78`).

What the double cannot prove: LiteLLM's real database (Prisma/PostgreSQL), its caches across replicas,
budgets being enforced or reset by the reset job, the exact reset times (timezone and reset-time settings
of the running proxy), the full authorisation rules (team admins, roles, organisation limits, premium-only
fields, `default_team_params`/`default_key_generate_params` of the proxy config), key alias format rules
that a proxy can switch on (`key_alias_pattern`), and TLS to a real Ingress.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from litellm.proxy._types import DeleteTeamRequest, KeyRequest, NewTeamRequest, UpdateTeamRequest
from litellm.proxy.common_utils.timezone_utils import (
    budget_duration_error,
    get_budget_reset_time,
    keeps_due_budget_reset,
)
from litellm.types.proxy.management_endpoints.key_requests import GenerateKeyRequest, UpdateKeyRequest
from pydantic import BaseModel, ValidationError

from components.platform.teams import GatewayError, KeyProvider, ManagementApi, TeamProvider, read_key

MASTER_KEY = "sk-test-master"

#: The request model FastAPI validates each management body with (the endpoint's `data` parameter).
REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "/team/new": NewTeamRequest,
    "/team/update": UpdateTeamRequest,
    "/team/delete": DeleteTeamRequest,
    "/key/generate": GenerateKeyRequest,
    "/key/update": UpdateKeyRequest,
    "/key/delete": KeyRequest,
}


def _proxy_error(
    status: int, detail: Any, type_: str = "internal_server_error", param: str | None = None
) -> tuple[int, Any]:
    """A `ProxyException` as `openai_exception_handler` (proxy_server.py) writes it; `detail` as `str()`."""
    return status, {"error": {"message": str(detail), "type": type_, "param": param, "code": str(status)}}


class FakeLiteLLM:
    """The management API's state: teams by id, keys by hash, the key archive; and logs of what was sent."""

    def __init__(self) -> None:
        self.teams: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, dict[str, Any]] = {}
        self.deleted_keys: dict[str, dict[str, Any]] = {}
        self.writes: list[str] = []
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.budget_resets: list[str] = []
        """`team:<id>` or `key:<hash>` each time a write (re)computed `budget_reset_at`."""
        self.ignored: list[tuple[str, list[str]]] = []
        """Fields LiteLLM's request models would silently drop, per call."""
        self.raw_keys_in_urls: list[str] = []

    def _reset(self, row: dict[str, Any], who: str, duration: str | None) -> None:
        if duration is None:
            row["budget_reset_at"] = None
        elif not keeps_due_budget_reset(duration, row.get("budget_duration"), row.get("budget_reset_at")):
            row["budget_reset_at"] = get_budget_reset_time(budget_duration=duration)
            self.budget_resets.append(who)

    def handle(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if method == "GET" and path == "/team/info":
            return self._team_info(query.get("team_id", ""))
        if method == "GET" and path == "/key/info":
            return self._key_info(query.get("key", ""))
        if method != "POST":
            return 405, {"detail": "Method Not Allowed"}
        model = REQUEST_MODELS.get(path)
        if model is None:
            return 404, {"detail": "Not Found"}
        try:
            data = model.model_validate(body)
        except ValidationError as error:
            return 422, {"detail": json.loads(error.json(include_url=False))}
        ignored = sorted(set(body) - set(model.model_fields))
        if ignored:
            self.ignored.append((path, ignored))
        self.writes.append(path)
        self.bodies.append((path, body))
        duration = getattr(data, "budget_duration", None)
        if path in ("/team/new", "/team/update", "/key/generate", "/key/update"):
            if (problem := budget_duration_error(duration)) is not None:
                return _proxy_error(400, {"error": problem})
            max_budget = getattr(data, "max_budget", None)
            if max_budget is not None and max_budget < 0:
                return _proxy_error(
                    400, {"error": f"max_budget must be a non-negative finite number. Received: {max_budget}"}
                )
        fields = data.model_dump(exclude_unset=True)
        if path == "/team/new":
            return self._team_new(fields)
        if path == "/team/update":
            return self._team_update(fields)
        if path == "/team/delete":
            return self._team_delete(list(data.team_ids))  # type: ignore[attr-defined]
        if path == "/key/generate":
            return self._key_generate(fields)
        if path == "/key/update":
            return self._key_update(fields)
        return self._key_delete(data.keys)  # type: ignore[attr-defined]

    def _team_info(self, team_id: str) -> tuple[int, Any]:
        team = self.teams.get(team_id)
        if team is None:
            return _proxy_error(
                404, {"message": f"Team not found, passed team id: {team_id}."}, "auth_error", "None"
            )
        keys = [
            {k: v for k, v in row.items() if k != "token"}
            for row in self.keys.values()
            if row["team_id"] == team_id
        ]
        return 200, {"team_id": team_id, "team_info": team, "keys": keys, "team_memberships": []}

    def _key_info(self, key: str) -> tuple[int, Any]:
        if key.startswith("sk-"):
            self.raw_keys_in_urls.append("/key/info")
        token = _hash_if_needed(key)
        if token in self.keys:
            row = self.keys[token]
            return 200, {"key": key, "info": {**row, "status": _key_status(row)}}
        if token in self.deleted_keys:
            return 200, {"key": key, "info": {**self.deleted_keys[token], "status": "deleted"}}
        return _proxy_error(404, "Key not found in database", "not_found_error", "key")

    def _team_new(self, fields: dict[str, Any]) -> tuple[int, Any]:
        team_id = fields["team_id"]
        if team_id in self.teams:
            return _proxy_error(
                400, {"error": f"Team id = {team_id} already exists. Please use a different team id."}
            )
        team: dict[str, Any] = {
            "models": [],
            "blocked": False,
            "spend": 0.0,
            "budget_reset_at": None,
            **fields,
        }
        if fields.get("budget_duration") is not None:
            self._reset(team, f"team:{team_id}", fields["budget_duration"])
        self.teams[team_id] = team
        return 200, team

    def _team_update(self, fields: dict[str, Any]) -> tuple[int, Any]:
        team = self.teams.get(fields["team_id"])
        if team is None:
            return _proxy_error(404, {"error": f"Team not found, passed team_id={fields['team_id']}"})
        if "budget_duration" in fields:
            self._reset(team, f"team:{team['team_id']}", fields["budget_duration"])
        team.update(fields)
        return 200, {"team_id": team["team_id"], "data": team}

    def _team_delete(self, team_ids: list[str]) -> tuple[int, Any]:
        for team_id in team_ids:
            if team_id not in self.teams:
                return 404, {"detail": {"error": f"Team not found, passed team_id={team_id}"}}
        for team_id in team_ids:
            del self.teams[team_id]
            for token in [t for t, row in self.keys.items() if row["team_id"] == team_id]:
                self.deleted_keys[token] = self.keys.pop(token)
        return 200, {"deleted_teams": team_ids}

    def _key_generate(self, fields: dict[str, Any]) -> tuple[int, Any]:
        alias = fields.get("key_alias")
        if alias is not None and any(row.get("key_alias") == alias for row in self.keys.values()):
            return _proxy_error(
                400,
                f"Key with alias '{alias}' already exists. Unique key aliases across all keys are required.",
                "bad_request_error",
                "key_alias",
            )
        raw = f"sk-{secrets.token_urlsafe(16)}"
        token = _hash_if_needed(raw)
        row: dict[str, Any] = {
            "spend": 0.0,
            "budget_reset_at": None,
            "blocked": None,
            **fields,
            "token": token,
        }
        if fields.get("budget_duration") is not None:
            self._reset(row, f"key:{token}", fields["budget_duration"])
        self.keys[token] = row
        return 200, {**row, "key": raw, "token_id": token, "token": token}

    def _key_update(self, fields: dict[str, Any]) -> tuple[int, Any]:
        token = _hash_if_needed(fields["key"])
        row = self.keys.get(token)
        if row is None:
            return _proxy_error(404, "Key not found.", "not_found_error", "key")
        changes = {k: v for k, v in fields.items() if k != "key"}
        if "budget_duration" in changes:
            self._reset(row, f"key:{token}", changes["budget_duration"])
        row.update(changes)
        return 200, {"key": fields["key"], **row}

    def _key_delete(self, keys: list[str] | None) -> tuple[int, Any]:
        if not keys:
            return 501, {"detail": "the double implements /key/delete by `keys` only"}
        found = [t for t in map(_hash_if_needed, keys) if t in self.keys]
        if not found:
            return _proxy_error(404, {"error": "No keys found"})
        for token in found:
            self.deleted_keys[token] = {**self.keys.pop(token), "deleted_at": datetime.now(UTC)}
        return 200, {"deleted_keys": keys}


def _key_status(row: dict[str, Any]) -> str:
    """`_derive_key_status` (key_management_endpoints.py:6821): blocked before expired."""
    if row.get("blocked") is True:
        return "revoked"
    expires = row.get("expires")
    return "expired" if expires is not None and expires < datetime.now(UTC) else "active"


def _hash_if_needed(key: str) -> str:
    """`hash_token_if_needed` (litellm/proxy/utils.py:8095): sha256 of keys that start with `sk-`."""
    return hashlib.sha256(key.encode()).hexdigest() if key.startswith("sk-") else key


@pytest.fixture
def gateway() -> Iterator[tuple[FakeLiteLLM, str]]:
    fake = FakeLiteLLM()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            if self.headers.get("Authorization") != f"Bearer {MASTER_KEY}":
                status, answer = _proxy_error(
                    401, "Authentication Error, Invalid proxy server token passed", "auth_error", "None"
                )
            else:
                status, answer = fake.handle(method, url.path, query, body)
            data = json.dumps(answer, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    assert fake.ignored == [], "fields LiteLLM 1.108.7 would silently ignore"
    assert fake.raw_keys_in_urls == [], "a raw key in a /key/info URL ends up in access logs"


def _team(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "admin_url": url,
        "master_key": MASTER_KEY,
        "team_id": "kiva-sozialamt",
        "team_alias": "sozialamt",
        "models": ["qwen2.5-7b-instruct"],
        "max_budget": 500.0,
        "budget_duration": "30d",
        "rpm_limit": 600,
        "tpm_limit": None,
        **changes,
    }


def _key(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "admin_url": url,
        "master_key": MASTER_KEY,
        "team_id": "kiva-sozialamt",
        "key_alias": "sozialamt/bescheid-assistent",
        "models": [],
        "max_budget": 100.0,
        "budget_duration": "30d",
        "rpm_limit": 120,
        "tpm_limit": None,
        "key": None,
        **changes,
    }


def test_litellm_request_models_ignore_unknown_fields_rather_than_refuse_them() -> None:
    """Why the double records unknown fields instead of answering 422: LiteLLM 1.108.7 accepts them."""
    assert {path: model.model_config.get("extra") for path, model in REQUEST_MODELS.items()} == dict.fromkeys(
        REQUEST_MODELS
    )
    assert NewTeamRequest.model_validate({"team_id": "t", "budget": 5}).model_dump(exclude_unset=True) == {
        "team_id": "t"
    }


def test_the_double_records_a_field_the_gateway_would_drop(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    answer = ManagementApi(url, MASTER_KEY).call("POST", "/team/new", {"team_id": "t", "team_budget": 5})
    assert answer["team_id"] == "t" and "team_budget" not in answer
    assert fake.ignored == [("/team/new", ["team_budget"])]
    fake.ignored.clear()


def test_the_double_refuses_what_the_request_models_refuse(gateway: tuple[FakeLiteLLM, str]) -> None:
    _, url = gateway
    api = ManagementApi(url, MASTER_KEY)
    with pytest.raises(GatewayError) as no_ids:
        api.call("POST", "/team/delete", {"team_id": "kiva-sozialamt"})
    assert str(no_ids.value).startswith(f"POST /team/delete at {url}: HTTP 422: ")
    assert '"loc": ["team_ids"]' in str(no_ids.value)
    with pytest.raises(GatewayError) as no_key:
        api.call("POST", "/key/update", {"max_budget": 5})
    assert "either key or key_alias must be provided" in str(no_key.value)


def test_team_create_is_idempotent(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    first = TeamProvider().create(_team(url))
    assert first.id == "kiva-sozialamt"
    assert fake.teams["kiva-sozialamt"]["max_budget"] == 500.0
    assert fake.teams["kiva-sozialamt"]["budget_reset_at"] is not None
    assert fake.writes == ["/team/new"]
    second = TeamProvider().create(_team(url))
    assert second.id == "kiva-sozialamt"
    assert fake.writes == ["/team/new"]  # the second create found the team as wanted and wrote nothing


def test_create_adopts_a_drifted_team_with_an_update_of_the_drift_only(
    gateway: tuple[FakeLiteLLM, str],
) -> None:
    fake, url = gateway
    TeamProvider().create(_team(url, max_budget=50.0))
    TeamProvider().create(_team(url))
    assert fake.writes == ["/team/new", "/team/update"]
    assert fake.bodies[-1] == ("/team/update", {"team_id": "kiva-sozialamt", "max_budget": 500.0})
    assert fake.teams["kiva-sozialamt"]["max_budget"] == 500.0


def test_diff_shows_a_budget_changed_on_the_gateway(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    props = _team(url)
    TeamProvider().create(props)
    assert TeamProvider().diff("kiva-sozialamt", props, props).changes is False
    fake.teams["kiva-sozialamt"]["max_budget"] = 9999.0  # changed in the admin UI
    assert TeamProvider().diff("kiva-sozialamt", props, props).changes is True
    assert TeamProvider().read("kiva-sozialamt", props).outs["max_budget"] == 9999.0


def test_update_sets_and_clears_limits(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    olds = _team(url)
    TeamProvider().create(olds)
    news = _team(url, max_budget=800.0, rpm_limit=None)
    assert TeamProvider().diff("kiva-sozialamt", olds, news).changes is True
    TeamProvider().update("kiva-sozialamt", olds, news)
    assert fake.bodies[-1] == (
        "/team/update",
        {"team_id": "kiva-sozialamt", "max_budget": 800.0, "rpm_limit": None},
    )
    assert (fake.teams["kiva-sozialamt"]["max_budget"], fake.teams["kiva-sozialamt"]["rpm_limit"]) == (
        800.0,
        None,
    )
    assert TeamProvider().diff("kiva-sozialamt", news, news).changes is False


def test_changing_a_limit_leaves_the_team_s_budget_reset_alone(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    olds = _team(url)
    TeamProvider().create(olds)
    assert fake.budget_resets == ["team:kiva-sozialamt"]
    reset_at = fake.teams["kiva-sozialamt"]["budget_reset_at"]
    TeamProvider().update("kiva-sozialamt", olds, _team(url, rpm_limit=900))
    assert fake.budget_resets == ["team:kiva-sozialamt"]
    assert fake.teams["kiva-sozialamt"]["budget_reset_at"] == reset_at
    TeamProvider().update("kiva-sozialamt", olds, _team(url, rpm_limit=900, budget_duration="7d"))
    assert fake.bodies[-1] == ("/team/update", {"team_id": "kiva-sozialamt", "budget_duration": "7d"})
    assert fake.budget_resets == ["team:kiva-sozialamt", "team:kiva-sozialamt"]


def test_the_gateway_refuses_a_period_it_cannot_reset(gateway: tuple[FakeLiteLLM, str]) -> None:
    """What the settings' `BUDGET_DURATION_PATTERN` keeps from ever reaching the gateway."""
    fake, url = gateway
    with pytest.raises(GatewayError) as caught:
        TeamProvider().create(_team(url, budget_duration="2mo"))
    assert str(caught.value).startswith(f"POST /team/new at {url}: HTTP 400: ")
    assert "Invalid budget_duration '2mo'. Use a format like '1h', '24h', '7d', or '30d'." in str(
        caught.value
    )
    assert fake.teams == {}


def test_a_team_deleted_on_the_gateway_is_replaced(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    props = _team(url)
    TeamProvider().create(props)
    del fake.teams["kiva-sozialamt"]
    diff = TeamProvider().diff("kiva-sozialamt", props, props)
    assert (diff.changes, diff.replaces, diff.delete_before_replace) == (True, ["team_id"], True)
    assert TeamProvider().read("kiva-sozialamt", props).id is None


def test_an_update_of_a_team_deleted_meanwhile_fails_instead_of_passing(
    gateway: tuple[FakeLiteLLM, str],
) -> None:
    fake, url = gateway
    olds = _team(url)
    TeamProvider().create(olds)
    del fake.teams["kiva-sozialamt"]
    with pytest.raises(GatewayError) as caught:
        TeamProvider().update("kiva-sozialamt", olds, _team(url, rpm_limit=900))
    assert str(caught.value) == (
        "team 'kiva-sozialamt' was deleted on the gateway during the update; run `pulumi up` again"
    )
    with pytest.raises(GatewayError) as direct:  # a 404 of an update is an error, never "nothing to do"
        ManagementApi(url, MASTER_KEY).call(
            "POST", "/team/update", {"team_id": "kiva-sozialamt", "rpm_limit": 1}
        )
    assert str(direct.value).startswith(f"POST /team/update at {url}: HTTP 404: ")
    assert "Team not found, passed team_id=kiva-sozialamt" in str(direct.value)


def test_key_is_created_once_and_update_keeps_its_value(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    TeamProvider().create(_team(url))
    created = KeyProvider().create(_key(url))
    raw = created.outs["key"]
    assert raw.startswith("sk-") and created.id == _hash_if_needed(raw)
    assert fake.keys[created.id]["key_alias"] == "sozialamt/bescheid-assistent"
    assert fake.keys[created.id]["metadata"] == {"managed-by": "kiva"}
    olds = created.outs
    news = _key(url, max_budget=50.0)
    assert KeyProvider().diff(created.id, olds, news).changes is True
    updated = KeyProvider().update(created.id, olds, news)
    assert updated.outs["key"] == raw
    assert fake.bodies[-1] == ("/key/update", {"key": created.id, "max_budget": 50.0})
    assert fake.keys[created.id]["max_budget"] == 50.0
    assert [w for w in fake.writes if w.startswith("/key/")] == ["/key/generate", "/key/update"]
    assert KeyProvider().diff(created.id, updated.outs, news).changes is False


def test_changing_a_key_s_limit_leaves_its_budget_reset_alone(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    TeamProvider().create(_team(url))
    created = KeyProvider().create(_key(url))
    assert fake.budget_resets == ["team:kiva-sozialamt", f"key:{created.id}"]
    KeyProvider().update(created.id, created.outs, _key(url, rpm_limit=60))
    assert fake.budget_resets == ["team:kiva-sozialamt", f"key:{created.id}"]


def test_second_generate_of_the_same_alias_is_refused_with_the_gateway_s_message(
    gateway: tuple[FakeLiteLLM, str],
) -> None:
    _, url = gateway
    TeamProvider().create(_team(url))
    KeyProvider().create(_key(url))
    with pytest.raises(GatewayError) as caught:
        KeyProvider().create(_key(url))
    assert str(caught.value).startswith(f"POST /key/generate at {url}: HTTP 400: ")
    assert (
        "Key with alias 'sozialamt/bescheid-assistent' already exists. "
        "Unique key aliases across all keys are required." in str(caught.value)
    )


def test_a_deleted_key_answers_from_the_archive_and_counts_as_gone(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    TeamProvider().create(_team(url))
    created = KeyProvider().create(_key(url))
    fake.keys[created.id]["rpm_limit"] = 10_000
    assert KeyProvider().diff(created.id, created.outs, _key(url)).changes is True
    KeyProvider().delete(created.id, created.outs)
    assert created.id not in fake.keys
    archived = ManagementApi(url, MASTER_KEY).call("GET", "/key/info", key=created.id)
    assert (archived["key"], archived["info"]["status"]) == (created.id, "deleted")  # 200, not 404
    assert read_key(ManagementApi(url, MASTER_KEY), created.id) is None
    diff = KeyProvider().diff(created.id, created.outs, _key(url))
    assert (diff.changes, diff.replaces, diff.delete_before_replace) == (True, ["key_alias"], True)
    KeyProvider().delete(created.id, created.outs)  # already gone: nothing to do
    assert fake.writes.count("/key/delete") == 1
    again = KeyProvider().create(_key(url))  # the replacement: the alias is free again
    assert again.id != created.id and fake.keys[again.id]["key_alias"] == "sozialamt/bescheid-assistent"


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [("blocked", True, "revoked"), ("expires", datetime(2026, 1, 1, tzinfo=UTC), "expired")],
)
def test_a_key_blocked_or_expired_on_the_gateway_is_replaced_not_let_back_in(
    gateway: tuple[FakeLiteLLM, str], field: str, value: Any, status: str
) -> None:
    fake, url = gateway
    TeamProvider().create(_team(url))
    created = KeyProvider().create(_key(url))
    assert KeyProvider().diff(created.id, created.outs, _key(url)).changes is False
    fake.keys[created.id][field] = value  # what /key/block or an expiry set in the UI leaves
    assert read_key(ManagementApi(url, MASTER_KEY), created.id)["status"] == status
    diff = KeyProvider().diff(created.id, created.outs, _key(url))
    assert (diff.changes, diff.replaces, diff.delete_before_replace) == (True, ["key_alias"], True)
    KeyProvider().delete(created.id, created.outs)  # delete-before-replace: the refused key goes
    assert created.id in fake.deleted_keys and "/key/update" not in fake.writes
    again = KeyProvider().create(_key(url))
    assert again.id != created.id and again.outs["key"] != created.outs["key"]
    assert KeyProvider().diff(again.id, again.outs, _key(url)).changes is False


def test_deleting_a_team_revokes_its_keys(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    TeamProvider().create(_team(url))
    created = KeyProvider().create(_key(url))
    TeamProvider().delete("kiva-sozialamt", _team(url))
    assert fake.teams == {} and fake.keys == {}
    assert list(fake.deleted_keys) == [created.id]
    assert KeyProvider().read(created.id, created.outs).id is None
    KeyProvider().delete(created.id, created.outs)  # deleted with its team: nothing to do
    TeamProvider().delete("kiva-sozialamt", _team(url))  # idempotent
    assert fake.writes.count("/team/delete") == 1
    assert fake.writes.count("/key/delete") == 0


def test_the_double_flags_a_raw_key_in_a_url(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    TeamProvider().create(_team(url))
    raw = KeyProvider().create(_key(url)).outs["key"]
    assert read_key(ManagementApi(url, MASTER_KEY), raw) is not None
    assert fake.raw_keys_in_urls == ["/key/info"]
    fake.raw_keys_in_urls.clear()


def test_wrong_master_key_and_unreachable_gateway_say_what_failed(gateway: tuple[FakeLiteLLM, str]) -> None:
    _, url = gateway
    with pytest.raises(GatewayError) as caught:
        TeamProvider().create(_team(url, master_key="sk-wrong"))
    assert str(caught.value).startswith(f"GET /team/info at {url}: HTTP 401: ")
    assert "Authentication Error, Invalid proxy server token passed" in str(caught.value)
    assert "sk-wrong" not in str(caught.value)
    with pytest.raises(GatewayError) as unreachable:
        TeamProvider().create(_team("http://127.0.0.1:9"))
    assert str(unreachable.value).startswith(
        "GET /team/info: the gateway's management API at http://127.0.0.1:9 is unreachable ("
    )
