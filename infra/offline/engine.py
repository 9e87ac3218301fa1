"""Run the real Pulumi program in-process under the mock engine and record every registration.

This is `kiva plan`'s core and the test suite's fixture: the program is `infra.program.run`, exactly
what `pulumi up` executes; only the engine underneath is replaced.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config

from infra.offline.mocks import KivaMocks
from infra.offline.stackfile import StackFile

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Registration:
    """One registered resource: what `pulumi preview` would show as a `create` step."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    inputs: dict[str, Any]
    """Inputs as the engine receives them (camelCase); secrets still wrapped in the secret signature."""
    provider: str = ""
    dependencies: list[str] = field(default_factory=list)
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """Everything one offline run of the program registered."""

    project: str
    stack: str
    config: dict[str, str]
    secret_keys: frozenset[str]
    resources: list[Registration]
    stack_outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> Registration:
        return next(r for r in self.resources if r.name == name)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, plus a record of each request's options (parent, protect, dependencies)."""

    def __init__(self, mocks: KivaMocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.stack_urn = ""

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == STACK_TYPE:
            self.stack_urn = response.urn
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        state = self.resources[response.urn].state if response.urn in self.resources else {}
        self.registrations.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent,
                inputs=inputs,
                provider=request.provider,
                dependencies=list(request.dependencies),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                delete_before_replace=bool(request.deleteBeforeReplace),
                id=response.id,
                outputs=dict(state),
            )
        )
        return response


def run_program(stack_file: StackFile) -> Plan:
    """Run `infra.program.run` for one stack under the mock engine; raise `pulumi.RunError` on bad config.

    Each call gets a fresh event loop, root stack and monitor, so several plans can run in one process.
    """
    from infra.program import run  # imported late: the program module reads nothing at import time

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        settings.ROOT.set(None)
        set_all_config(dict(stack_file.config), sorted(stack_file.secret_keys))
        monitor = RecordingMonitor(KivaMocks())
        pulumi.runtime.set_mocks(
            monitor.mocks, project=stack_file.project, stack=stack_file.stack, preview=False, monitor=monitor
        )
        exports: dict[str, Any] = {}
        pulumi.runtime.test(lambda: _run_and_capture_exports(run, exports))()
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        settings.ROOT.set(None)
    return Plan(
        project=stack_file.project,
        stack=stack_file.stack,
        config=dict(stack_file.config),
        secret_keys=stack_file.secret_keys,
        resources=monitor.registrations,
        stack_outputs=exports,
    )


def _run_and_capture_exports(run: Any, exports: dict[str, Any]) -> Any:
    """Run the program, then serialise the root stack's exports the way the engine would (secrets marked).

    Under mocks the root stack is finished before the program runs, so exports never reach the monitor.
    """
    run()
    root = settings.get_root_resource()
    outputs = dict(getattr(root, "outputs", {}) or {})

    async def capture() -> None:
        struct = await rpc.serialize_properties(outputs, {})
        exports.update(rpc.deserialize_properties(struct, keep_unknowns=True))

    return asyncio.ensure_future(capture())
