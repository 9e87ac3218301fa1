"""Run LiteLLM's own start command up to the server start (a subprocess of test_gateway.py).

Usage: python litellm_start_check.py OUTCOME ARG... — runs `litellm.proxy.proxy_cli.run_server` with the
gateway container's ARGs, with `DATABASE_URL` set (by the caller) and the database set-up replaced by
OUTCOME: `migrated` (set-up succeeds), `failed` (set-up still fails after its retries), `unrecoverable`
(the migration resolver gives up) or `no-prisma` (no Prisma CLI in the image). Nothing connects to a
database or binds a port: `uvicorn.run` is replaced by a report of what LiteLLM would have started.
Prints `KIVA-SERVED {json}` when LiteLLM goes on to serve; otherwise the process ends with LiteLLM's
own exit code. Runs in its own process because `run_server` rewrites `os.environ` and exits.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main(outcome: str, cli_args: list[str]) -> None:
    import litellm.proxy.db.prisma_client as prisma_client
    import litellm.proxy.proxy_cli as proxy_cli
    import litellm_proxy_extras.prisma_toolchain as toolchain
    import uvicorn

    events: list[str] = []

    def setup_database(use_migrate: bool = False, use_v2_resolver: bool = False) -> bool:
        events.append(f"setup_database(use_migrate={use_migrate}, use_v2_resolver={use_v2_resolver})")
        if outcome == "unrecoverable":
            raise RuntimeError("kiva test: a migration failed and cannot be resolved")
        return outcome == "migrated"

    def serve(**kwargs: Any) -> None:
        served = {key: value for key, value in kwargs.items() if isinstance(value, str | int | float | bool)}
        print("KIVA-SERVED " + json.dumps({"uvicorn": served, "events": events}), flush=True)

    toolchain.prisma_cli_available = lambda: outcome != "no-prisma"
    prisma_client.PrismaManager.setup_database = staticmethod(setup_database)  # type: ignore[method-assign]
    prisma_client.PrismaManager.start_request_log_index_build = staticmethod(  # type: ignore[method-assign]
        lambda: events.append("start_request_log_index_build")
    )
    proxy_cli.start_query_engine_reaper = lambda: events.append("start_query_engine_reaper")
    helpers = proxy_cli.ProxyInitializationHelpers
    helpers.is_port_in_use = staticmethod(lambda port: False)  # type: ignore[method-assign]
    uvicorn.run = serve
    proxy_cli.run_server.main(cli_args, prog_name="litellm", standalone_mode=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
