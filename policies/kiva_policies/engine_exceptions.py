"""Exceptions as code under the real Pulumi engine (`pulumi preview/up --policy-pack policies`).

Offline, `runner.apply_exceptions` waives findings after the pack has run and lists them in the report.
The Pulumi CLI has no such step: every diagnostic the pack returns counts at its enforcement level. So
`policies/__main__.py` serves the pack through `engine_policies`, which wraps each policy:

- The wrapped `validate` hands the policy a `report_violation` that drops a violation an active
  exception of the stack matches (policy name and the violation's URN; for a resource policy that names
  none, the resource's URN, which is the URN the servicer files it under; a stack policy's violation
  without a URN has the empty URN, as offline). Everything else is passed on unchanged.
- Each waived finding is written as one line to stderr with the justification. The Pulumi CLI shows a
  policy pack's stderr: `newPlugin` (pulumi/pulumi `sdk/go/common/resource/plugin/plugin.go`) forwards
  each stderr line of a non-resource plugin, and a policy pack runs as an analyzer plugin
  (`analyzer_plugin.go`), to the diagnostics sink as an info message on the error stream
  (`Diag.Infoerrf`, no URN); only resource providers' output is hidden at debug level.
- `kiva-exceptions-valid` is added as a mandatory stack policy: an expired or malformed entry is a
  violation, as offline; a file that is not YAML or not of the expected shape is a violation too, naming
  the file and the problem (the engine has no exit code 2 for a usage error).

The stack is read from the URNs (`urn:pulumi:<stack>::<project>::…`) and its file is
`EXCEPTIONS_DIR/<stack>.yaml`, the file `kiva plan STACK` and `kiva check` read. The wrapped policies
keep name, description, enforcement level, config schema and the other metadata of the originals; the
servicer sees no difference but the waived diagnostics. The offline runner keeps using the unwrapped
`pack.POLICIES` (it waives post hoc and adds `kiva-exceptions-valid` itself), so nothing is applied twice.

"Today" is read at each check (`date.today` by default; tests inject it). The file is read once per
stack and day and kept: the pack process lives for one preview or update.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from kiva_policies.exceptions import ExceptionSet, ExceptionsFileError, exceptions_path, load_exceptions
from kiva_policies.metadata import EXCEPTIONS_RULE

#: What the wrapped pack prints before each line on stderr, so the line can be found in the CLI output.
STDERR_PREFIX = "kiva policy exceptions:"
#: The description of the `kiva-exceptions-valid` policy the engine shows with each of its violations.
EXCEPTIONS_DESCRIPTION = (
    "Exceptions as code (policies/exceptions/<stack>.yaml) are valid: every entry names a policy of the "
    "pack, a resource, a reason, an owner, a ticket and an expiry that has not passed. "
    + EXCEPTIONS_RULE.rationale
)


def stack_of(urn: str | None) -> str | None:
    """The stack of a URN `urn:pulumi:<stack>::<project>::<type>::<name>`, or `None` for anything else."""
    if not urn or not urn.startswith("urn:pulumi:") or "::" not in urn:
        return None
    stack = urn.removeprefix("urn:pulumi:").split("::", 1)[0]
    return stack or None


def _stack_of_resources(urns: Iterable[str]) -> str | None:
    return next((stack for stack in map(stack_of, urns) if stack), None)


class EngineExceptions:
    """The exceptions of each stack as the engine wrapper reads them (cached per stack and day)."""

    def __init__(
        self,
        known: Iterable[str],
        directory: Path | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.known = frozenset(known)
        self.directory = directory
        self.today = today
        self._cache: dict[tuple[str, date], ExceptionSet | ExceptionsFileError | None] = {}
        self._lock = threading.Lock()  # the servicer answers on a thread pool

    def load(self, stack: str | None) -> ExceptionSet | None:
        """The stack's exceptions; `None` without a file. Raises `ExceptionsFileError` for a broken file."""
        if not stack:
            return None
        key = (stack, self.today())
        with self._lock:
            if key not in self._cache:
                path = exceptions_path(stack, None, self.directory)
                try:
                    self._cache[key] = None if path is None else load_exceptions(path, key[1], self.known)
                except ExceptionsFileError as error:
                    self._cache[key] = error
            found = self._cache[key]
        if isinstance(found, ExceptionsFileError):
            raise found
        return found

    def filtered(
        self, policy: str, stack: str | None, default_urn: str, report: ReportViolation
    ) -> ReportViolation:
        """`report`, minus the violations an active exception of `stack` matches (each noted on stderr).

        A file that cannot be read waives nothing here; `kiva-exceptions-valid` reports it.
        """
        try:
            exceptions = self.load(stack)
        except ExceptionsFileError:
            exceptions = None
        if exceptions is None:
            return report
        found = exceptions

        def report_violation(message: str, urn: str | None = None) -> None:
            target = urn or default_urn
            entry = found.match(policy, target)
            if entry is None or entry.exception is None:
                report(message, urn)
                return
            with self._lock:
                entry.waived += 1
            line = " ".join(f"{message}".split())
            print(
                f"{STDERR_PREFIX} waived {policy} on {target or 'the stack'} ({found.source}): {line} "
                f"-- accepted: {entry.exception.justification()}",
                file=sys.stderr,
                flush=True,
            )

        return report_violation

    def problems(self, stack: str | None) -> list[str]:
        """What is wrong with the stack's exceptions file: a broken file, or each expired or invalid entry."""
        try:
            exceptions = self.load(stack)
        except ExceptionsFileError as error:
            return [str(error)]
        return exceptions.problems if exceptions is not None else []


def _as_declared(policy: Policy) -> dict[str, Any]:
    """Everything the engine shows of a policy except how it validates: kept as the pack declares it."""
    return {
        "name": policy.name,
        "description": policy.description,
        "enforcement_level": policy.enforcement_level,
        "config_schema": policy.config_schema,
        "display_name": policy.display_name,
        "severity": policy.severity,
        "framework": policy.framework,
        "tags": policy.tags,
        "remediation_steps": policy.remediation_steps,
        "url": policy.url,
    }


def _wrap_resource_policy(policy: ResourceValidationPolicy, exceptions: EngineExceptions) -> Policy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> Awaitable | None:
        report = exceptions.filtered(policy.name, stack_of(args.urn), args.urn, report_violation)
        return policy.validate(args, report)

    return ResourceValidationPolicy(
        validate=validate,
        remediate=policy.remediate if policy.has_remediation() else None,
        **_as_declared(policy),
    )


def _wrap_stack_policy(policy: StackValidationPolicy, exceptions: EngineExceptions) -> Policy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> Awaitable | None:
        stack = _stack_of_resources(resource.urn for resource in args.resources)
        return policy.validate(args, exceptions.filtered(policy.name, stack, "", report_violation))

    return StackValidationPolicy(validate=validate, **_as_declared(policy))


def exceptions_valid_policy(exceptions: EngineExceptions) -> StackValidationPolicy:
    """`kiva-exceptions-valid` for the engine: one mandatory violation per problem of the stack's file."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for problem in exceptions.problems(_stack_of_resources(r.urn for r in args.resources)):
            report_violation(problem, None)

    return StackValidationPolicy(
        name=EXCEPTIONS_RULE.id,
        description=EXCEPTIONS_DESCRIPTION,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity(EXCEPTIONS_RULE.severity),
    )


def engine_policies(policies: list[Policy], exceptions: EngineExceptions | None = None) -> list[Policy]:
    """`policies` wrapped to honour the stacks' exceptions, then `kiva-exceptions-valid` (for `PolicyPack`).

    A policy that only remediates (no validation) reports nothing and is kept as it is.
    """
    names = [policy.name for policy in policies]
    if EXCEPTIONS_RULE.id in names:
        raise ValueError(f"{EXCEPTIONS_RULE.id} is added by engine_policies; the pack must not define it")
    exceptions = exceptions or EngineExceptions(names)
    wrapped: list[Policy] = []
    for policy in policies:
        if isinstance(policy, ResourceValidationPolicy) and policy.has_validation():
            wrapped.append(_wrap_resource_policy(policy, exceptions))
        elif isinstance(policy, StackValidationPolicy):
            wrapped.append(_wrap_stack_policy(policy, exceptions))
        else:
            wrapped.append(policy)
    return [*wrapped, exceptions_valid_policy(exceptions)]


__all__ = ["STDERR_PREFIX", "EngineExceptions", "engine_policies", "exceptions_valid_policy", "stack_of"]
