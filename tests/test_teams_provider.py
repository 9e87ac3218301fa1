"""The team and key providers (`components/platform/teams.py`) against a test double of LiteLLM's API.

The double is a stdlib HTTP server on 127.0.0.1 that implements only the management endpoints the
providers call, with the methods, request fields, answers and status codes of LiteLLM 1.90.6 (installed
package, `litellm/proxy/management_endpoints/`):

- `POST /team/new`: body `NewTeamRequest` (`TeamBase`, `litellm/models/team.py`); an existing `team_id`
  is refused with 400 "Team id = … already exists" (`new_team`, team_endpoints.py ~line 1097).
- `POST /team/update`: `UpdateTeamRequest`, applied as `data.json(exclude_unset=True)` (so `null`
  clears); 404 for an unknown team.
- `POST /team/delete`: `DeleteTeamRequest.team_ids`; deletes the team's keys too; 404 when unknown.
- `GET /team/info?team_id=`: `{"team_id", "team_info", "keys"}`; 404 "Team not found".
- `POST /key/generate`: `GenerateKeyRequest`; unique `key_alias` (400, `_enforce_unique_key_alias`); the
  answer's `key` is the raw key, `token_id` and `token` its hash (`generate_key_fn`, lines 965-967).
- `POST /key/update`: `UpdateKeyRequest.key` is the raw key or the hash (`_hash_token_if_needed`).
- `POST /key/delete`: `KeyRequest.keys`; `GET /key/info?key=`: `{"key", "info"}` or 404.
- Every call needs `Authorization: Bearer <master key>` (401 otherwise).

What the double cannot prove: LiteLLM's real database (Prisma/PostgreSQL) and its caches, budgets being
enforced or reset, the full authorisation rules (team admins, roles, organisation limits, premium-only
fields), validation of every field beyond those above, and TLS to a real Ingress.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from components.platform.teams import GatewayError, KeyProvider, TeamProvider

MASTER_KEY = "sk-test-master"


class FakeLiteLLM:
    """The management API's state: teams by id, keys by hash; and a log of the calls that changed it."""

    def __init__(self) -> None:
        self.teams: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, dict[str, Any]] = {}
        self.writes: list[str] = []

    def handle(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if method == "GET" and path == "/team/info":
            team = self.teams.get(query.get("team_id", ""))
            if team is None:
                return 404, {"error": {"message": f"Team not found, passed team id: {query.get('team_id')}."}}
            keys = [info for info in self.keys.values() if info["team_id"] == team["team_id"]]
            return 200, {"team_id": team["team_id"], "team_info": team, "keys": keys}
        if method == "GET" and path == "/key/info":
            token = _hash_if_needed(query.get("key", ""))
            if token not in self.keys:
                return 404, {"error": {"message": "Key not found in database"}}
            return 200, {"key": token, "info": self.keys[token]}
        if method != "POST":
            return 405, {"detail": "Method Not Allowed"}
        self.writes.append(path)
        if path == "/team/new":
            if body.get("team_id") in self.teams:
                return 400, {
                    "error": f"Team id = {body['team_id']} already exists. Please use a different team id."
                }
            team = {"models": [], "blocked": False, "spend": 0.0, **body}
            self.teams[team["team_id"]] = team
            return 200, team
        if path == "/team/update":
            team = self.teams.get(body["team_id"])
            if team is None:
                return 404, {"error": {"message": f"Team not found, passed team_id={body['team_id']}"}}
            team.update(body)
            return 200, {"team_id": team["team_id"], "data": team}
        if path == "/team/delete":
            missing = [t for t in body["team_ids"] if t not in self.teams]
            if missing:
                return 404, {"error": f"Team not found, passed team_id={missing[0]}"}
            for team_id in body["team_ids"]:
                del self.teams[team_id]
                self.keys = {h: k for h, k in self.keys.items() if k["team_id"] != team_id}
            return 200, body["team_ids"]
        if path == "/key/generate":
            if any(k.get("key_alias") == body.get("key_alias") for k in self.keys.values()):
                return 400, {"error": {"message": f"Key with alias '{body['key_alias']}' already exists."}}
            raw = f"sk-{secrets.token_urlsafe(16)}"
            token = _hash_if_needed(raw)
            self.keys[token] = {"spend": 0.0, **body}
            return 200, {**body, "key": raw, "token_id": token, "token": token}
        if path == "/key/update":
            token = _hash_if_needed(body["key"])
            if token not in self.keys:
                return 404, {"error": {"message": "Key not found"}}
            self.keys[token].update({k: v for k, v in body.items() if k != "key"})
            return 200, {"key": body["key"], **self.keys[token]}
        if path == "/key/delete":
            tokens = [_hash_if_needed(k) for k in body["keys"]]
            if any(t not in self.keys for t in tokens):
                return 400, {"error": "Not all keys passed in were deleted."}
            for token in tokens:
                del self.keys[token]
            return 200, {"deleted_keys": body["keys"]}
        return 404, {"detail": "Not Found"}


def _hash_if_needed(key: str) -> str:
    """`_hash_token_if_needed` (litellm/proxy/utils.py): sha256 of keys that start with `sk-`."""
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
                status, answer = 401, {"error": {"message": "Authentication Error"}}
            else:
                status, answer = fake.handle(method, url.path, query, body)
            data = json.dumps(answer).encode()
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
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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


def test_team_create_is_idempotent(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    first = TeamProvider().create(_team(url))
    assert first.id == "kiva-sozialamt"
    assert fake.teams["kiva-sozialamt"]["max_budget"] == 500.0
    assert fake.writes == ["/team/new"]
    second = TeamProvider().create(_team(url))
    assert second.id == "kiva-sozialamt"
    assert fake.writes == ["/team/new"]  # the second create found the team as wanted and wrote nothing


def test_create_adopts_a_drifted_team_with_an_update(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    TeamProvider().create(_team(url, max_budget=50.0))
    TeamProvider().create(_team(url))
    assert fake.writes == ["/team/new", "/team/update"]
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
    assert (fake.teams["kiva-sozialamt"]["max_budget"], fake.teams["kiva-sozialamt"]["rpm_limit"]) == (
        800.0,
        None,
    )
    assert TeamProvider().diff("kiva-sozialamt", news, news).changes is False


def test_a_team_deleted_on_the_gateway_is_replaced(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    props = _team(url)
    TeamProvider().create(props)
    del fake.teams["kiva-sozialamt"]
    diff = TeamProvider().diff("kiva-sozialamt", props, props)
    assert (diff.changes, diff.replaces, diff.delete_before_replace) == (True, ["team_id"], True)
    assert TeamProvider().read("kiva-sozialamt", props).id is None


def test_key_is_created_once_and_update_keeps_its_value(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    TeamProvider().create(_team(url))
    created = KeyProvider().create(_key(url))
    raw = created.outs["key"]
    assert raw.startswith("sk-") and created.id == _hash_if_needed(raw)
    assert fake.keys[created.id]["key_alias"] == "sozialamt/bescheid-assistent"
    olds = created.outs
    news = _key(url, max_budget=50.0)
    assert KeyProvider().diff(created.id, olds, news).changes is True
    updated = KeyProvider().update(created.id, olds, news)
    assert updated.outs["key"] == raw
    assert fake.keys[created.id]["max_budget"] == 50.0
    assert [w for w in fake.writes if w.startswith("/key/")] == ["/key/generate", "/key/update"]
    assert KeyProvider().diff(created.id, updated.outs, news).changes is False


def test_second_generate_of_the_same_alias_is_refused_with_the_gateway_s_message(
    gateway: tuple[FakeLiteLLM, str],
) -> None:
    _, url = gateway
    TeamProvider().create(_team(url))
    KeyProvider().create(_key(url))
    with pytest.raises(GatewayError) as caught:
        KeyProvider().create(_key(url))
    assert str(caught.value).startswith(f"POST /key/generate at {url}: HTTP 400: ")
    assert "Key with alias 'sozialamt/bescheid-assistent' already exists." in str(caught.value)


def test_key_drift_and_revocation(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    TeamProvider().create(_team(url))
    created = KeyProvider().create(_key(url))
    fake.keys[created.id]["rpm_limit"] = 10_000
    assert KeyProvider().diff(created.id, created.outs, _key(url)).changes is True
    KeyProvider().delete(created.id, created.outs)
    assert created.id not in fake.keys
    diff = KeyProvider().diff(created.id, created.outs, _key(url))
    assert (diff.changes, diff.replaces) == (True, ["key_alias"])
    KeyProvider().delete(created.id, created.outs)  # already gone: nothing to do
    assert fake.writes.count("/key/delete") == 1


def test_deleting_a_team_revokes_its_keys(gateway: tuple[FakeLiteLLM, str]) -> None:
    fake, url = gateway
    TeamProvider().create(_team(url))
    created = KeyProvider().create(_key(url))
    TeamProvider().delete("kiva-sozialamt", _team(url))
    assert fake.teams == {} and fake.keys == {}
    assert KeyProvider().read(created.id, created.outs).id is None
    TeamProvider().delete("kiva-sozialamt", _team(url))  # idempotent
    assert fake.writes.count("/team/delete") == 1


def test_wrong_master_key_and_unreachable_gateway_say_what_failed(gateway: tuple[FakeLiteLLM, str]) -> None:
    _, url = gateway
    with pytest.raises(GatewayError) as caught:
        TeamProvider().create(_team(url, master_key="sk-wrong"))
    assert str(caught.value).startswith(f"GET /team/info at {url}: HTTP 401: ")
    assert "sk-wrong" not in str(caught.value)
    with pytest.raises(GatewayError) as unreachable:
        TeamProvider().create(_team("http://127.0.0.1:9"))
    assert str(unreachable.value).startswith(
        "GET /team/info: the gateway's management API at http://127.0.0.1:9 is unreachable ("
    )
