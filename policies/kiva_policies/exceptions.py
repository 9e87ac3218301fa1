"""Exceptions as code: reviewed, expiring waivers of single findings (`policies/exceptions/<stack>.yaml`).

A reviewer may accept a finding for a while (a vendor image not yet published with a digest, say). The
acceptance is written down, not switched off: each entry names the policy, the resource (a URN or a
glob pattern over URNs), the reason, the owner, the ticket and an expiry at most 365 days ahead. The
runner (`runner.apply_exceptions`) turns a matching violation into a *waived* finding that stays in the
report with its justification and no longer counts as a mandatory violation. An entry that has
expired or is malformed waives nothing and is itself a violation (`kiva-exceptions-valid`), so that
exceptions cannot outlive their review. A file that is not YAML, or not of this shape at all, is a
usage error (`ExceptionsFileError`, exit 2).

"Today" is always passed in (the CLI uses the date at run time; tests pin it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

#: Longest time an exception may be granted for, counted from the day of the check.
MAX_DAYS = 365
FIELDS = ("policy", "resource", "reason", "owner", "ticket", "expires")
EXAMPLES = {
    "policy": "kiva-hardening-container-image-pinned",
    "resource": "urn:pulumi:prod::kiva::*::litellm",
    "reason": "vendor publishes no digest yet; tag is immutable in our registry mirror",
    "owner": "platform-team@example.org",
    "ticket": "KIVA-123",
    "expires": "2027-03-31",
}
ACTIVE, EXPIRED, INVALID = "active", "expired", "invalid"
#: `policies/exceptions/<stack>.yaml`: the reviewed exceptions of a stack. Defined here, not in the runner,
#: so that the engine wrapper (`engine_exceptions`, a policy module) finds the same file without importing
#: a consumer of the pack.
EXCEPTIONS_DIR = Path(__file__).resolve().parent.parent / "exceptions"


def exceptions_path(stack: str | None, explicit: Path | None, directory: Path | None = None) -> Path | None:
    """`explicit` when given, else `<directory>/<stack>.yaml` (default `EXCEPTIONS_DIR`) when it exists."""
    if explicit is not None:
        return explicit
    candidate = (directory or EXCEPTIONS_DIR) / f"{stack}.yaml" if stack else None
    return candidate if candidate is not None and candidate.is_file() else None


class ExceptionsFileError(ValueError):
    """The exceptions file cannot be read as a list of exceptions (a usage error, exit 2)."""


@dataclass(frozen=True)
class PolicyException:
    """One reviewed waiver: `policy` on resources whose URN equals or matches the glob `resource`."""

    policy: str
    resource: str
    reason: str
    owner: str
    ticket: str
    expires: date

    def matches(self, policy: str, urn: str) -> bool:
        return policy == self.policy and (urn == self.resource or fnmatchcase(urn, self.resource))

    def justification(self) -> str:
        return f"{self.reason} (owner {self.owner}, ticket {self.ticket}, expires {self.expires.isoformat()})"


@dataclass
class ExceptionEntry:
    """One entry of the file as the report lists it: what it says, its status and, if any, its problem."""

    index: int
    policy: str
    resource: str
    owner: str
    ticket: str
    expires: str
    status: str
    problem: str = ""
    exception: PolicyException | None = None
    waived: int = 0
    """How many findings this entry waived in the run."""


@dataclass
class ExceptionSet:
    source: str
    entries: list[ExceptionEntry] = field(default_factory=list)

    @property
    def active(self) -> list[PolicyException]:
        return [e.exception for e in self.entries if e.status == ACTIVE and e.exception is not None]

    @property
    def problems(self) -> list[str]:
        return [e.problem for e in self.entries if e.problem]

    def match(self, policy: str, urn: str) -> ExceptionEntry | None:
        for entry in self.entries:
            if entry.status == ACTIVE and entry.exception and entry.exception.matches(policy, urn):
                return entry
        return None


def _example(key: str) -> str:
    return f"e.g. `{key}: {EXAMPLES[key]}`"


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else ("" if value is None else str(value))


def _expiry(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _check_entry(
    raw: Any, where: str, today: date, known: Collection[str] | None
) -> tuple[PolicyException | None, str, str]:
    """(exception, status, problem) of one raw entry."""
    if not isinstance(raw, dict):
        return None, INVALID, f"{where}: must be a mapping with {', '.join(FIELDS)}; {_example('policy')}"
    unknown = sorted(set(map(str, raw)) - set(FIELDS))
    if unknown:
        return None, INVALID, f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(FIELDS)})"
    for key in FIELDS:
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None, INVALID, f"{where}.{key}: missing or empty; {_example(key)}"
        if key != "expires" and not isinstance(value, str):
            return None, INVALID, f"{where}.{key}: must be a string, got {value!r}; {_example(key)}"
    policy, resource = raw["policy"].strip(), raw["resource"].strip()
    if known is not None and policy not in known:
        return None, INVALID, f"{where}.policy: {policy!r} is not a policy of this pack; {_example('policy')}"
    if not resource.startswith("urn:pulumi:") and not any(c in resource for c in "*?["):
        return (
            None,
            INVALID,
            f"{where}.resource: {resource!r} is neither a URN (`urn:pulumi:…`) nor a glob pattern; "
            f"{_example('resource')}",
        )
    expires = _expiry(raw["expires"])
    if expires is None:
        return (
            None,
            INVALID,
            f"{where}.expires: {raw['expires']!r} is not a date (YYYY-MM-DD); {_example('expires')}",
        )
    latest = today + timedelta(days=MAX_DAYS)
    if expires > latest:
        return (
            None,
            INVALID,
            f"{where}.expires: {expires.isoformat()} is more than {MAX_DAYS} days after {today.isoformat()} "
            f"(latest allowed: {latest.isoformat()}); review the exception again instead",
        )
    exception = PolicyException(
        policy, resource, raw["reason"].strip(), raw["owner"].strip(), raw["ticket"].strip(), expires
    )
    if expires < today:
        return (
            exception,
            EXPIRED,
            f"{where}: exception for {policy} on {resource} (ticket {exception.ticket}) expired on "
            f"{expires.isoformat()}; renew it after review or remove it",
        )
    return exception, ACTIVE, ""


def parse_exceptions(
    document: Any, source: str, today: date, known: Collection[str] | None = None
) -> ExceptionSet:
    """Check a loaded document (`{"exceptions": [...]}`); entry problems are recorded, not raised."""
    if document is None:
        document = {"exceptions": []}
    if not isinstance(document, dict) or set(document) - {"exceptions"}:
        raise ExceptionsFileError(
            f"{source}: must be a mapping with the single key `exceptions` (a list), e.g.\n"
            "exceptions:\n"
            + "".join(f"  {'-' if k == 'policy' else ' '} {k}: {v}\n" for k, v in EXAMPLES.items())
        )
    entries = document.get("exceptions") or []
    if not isinstance(entries, list):
        raise ExceptionsFileError(f"{source}: exceptions: must be a list, got {type(entries).__name__}")
    result = ExceptionSet(source)
    for index, raw in enumerate(entries):
        exception, status, problem = _check_entry(raw, f"{source}: exceptions[{index}]", today, known)
        get = raw.get if isinstance(raw, dict) else (lambda _key: None)
        result.entries.append(
            ExceptionEntry(
                index,
                _text(get("policy")),
                _text(get("resource")),
                _text(get("owner")),
                _text(get("ticket")),
                _text(get("expires")),
                status,
                problem,
                exception,
            )
        )
    return result


def load_exceptions(path: Path, today: date, known: Collection[str] | None = None) -> ExceptionSet:
    """Read `path` (YAML); `known` are the policy names an entry may name."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ExceptionsFileError(f"{path}: cannot be read: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise ExceptionsFileError(f"{path}: not YAML: {error}") from None
    return parse_exceptions(document, str(path), today, known)


__all__ = [
    "EXCEPTIONS_DIR",
    "MAX_DAYS",
    "ExceptionEntry",
    "ExceptionSet",
    "ExceptionsFileError",
    "PolicyException",
    "exceptions_path",
    "load_exceptions",
    "parse_exceptions",
]
