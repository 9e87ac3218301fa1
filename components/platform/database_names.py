"""Names and sizes the database and its clients must agree on, computed from the settings alone.

Kept apart from `database.py` so the secrets (the gateway's `DATABASE_URL`) and the network policies
can use them without importing the component.
"""

from __future__ import annotations

import math

from components.contracts import DATABASE_CLUSTER_NAME, PLATFORM_NAMESPACE
from infra.settings import StackSettings
from infra.settings.base import quantity_to_cores

DATABASE_NAME = "litellm"
DATABASE_OWNER = "litellm"
POOLER_NAME = f"{DATABASE_CLUSTER_NAME}-pooler-rw"
#: Connections PostgreSQL keeps for the operator, replication and superuser maintenance.
RESERVED_CONNECTIONS = 20
#: Headroom over the computed client connections (rolling updates briefly run extra pods).
CONNECTION_MARGIN = 1.25


#: CPU seconds a uvicorn worker spends importing LiteLLM before it can answer its supervisor: 3.5 s was
#: measured for 1.90.6; importing 1.108.7's proxy took about 1.55 times the CPU of 1.90.6's on one machine
#: (6.7 against 4.3 s, Python 3.11, bytecode cached), so 5.4 s.
LITELLM_IMPORT_CPU_SECONDS = 5.4
#: How long uvicorn's supervisor waits for a worker's answer before it kills the worker, passed as
#: `--timeout_worker_healthcheck` (LiteLLM 1.108.7 litellm/proxy/proxy_cli.py:986-993, handed to uvicorn
#: at :330-332 when uvicorn takes it, i.e. uvicorn >= 0.37). LiteLLM's images install uvicorn from its
#: lock file, at 0.51.0 since BerriAI/litellm#33574 (2026-07-16, before the 1.108 line); on an older
#: uvicorn LiteLLM logs "--timeout_worker_healthcheck requires uvicorn>=0.37.0 ... Ignoring the flag" and
#: uvicorn's fixed 5 s apply, under which 2 workers on 2 busy cores could be killed in a loop
#: (docs/platform.md lists the check for the first rollout).
UVICORN_HEALTHCHECK_SECONDS = 30
#: Headroom on the import time (slower cores, the parent process, page faults).
IMPORT_MARGIN = 1.25


def gateway_workers(settings: StackSettings) -> int:
    """Uvicorn workers per gateway pod, so that a pod starts even on a node whose CPU is fully busy.

    With several workers, uvicorn's supervisor kills any worker that has not answered within
    `UVICORN_HEALTHCHECK_SECONDS`, and all workers import LiteLLM at once. On a busy node a container
    is only sure of its CPU request (CFS shares), so every worker must get enough of the request to
    finish the import in time: workers ≤ request / (import CPU × margin / health-check window), and
    never more than one per requested core (LiteLLM's recommendation). A single worker runs without the
    supervisor, so below one core the pod gets one worker and only the startup probe's patience matters.
    """
    cores = quantity_to_cores(settings.gateway.resources.requests.cpu)
    share_needed = LITELLM_IMPORT_CPU_SECONDS * IMPORT_MARGIN / UVICORN_HEALTHCHECK_SECONDS
    return max(1, min(math.floor(cores), math.floor(cores / share_needed)))


def gateway_connections(settings: StackSettings) -> int:
    """Connections the gateway may open at full scale: replicas x workers x pool size."""
    gateway = settings.gateway
    return gateway.max_replicas * gateway_workers(settings) * gateway.database_connection_pool_limit


def max_connections(settings: StackSettings) -> int:
    """PostgreSQL `max_connections`: the gateway's connections with margin, plus the reserved ones.

    With a pooler, PostgreSQL only sees the pooler's server connections (`pooler_pool_size` each).
    """
    if settings.database.pooler.enabled:
        clients = settings.database.pooler.instances * pooler_pool_size(settings)
    else:
        clients = gateway_connections(settings)
    return max(100, math.ceil(clients * CONNECTION_MARGIN) + RESERVED_CONNECTIONS)


def pooler_pool_size(settings: StackSettings) -> int:
    """Server connections per PgBouncer instance: enough for its share of the gateway's connections."""
    return math.ceil(gateway_connections(settings) / settings.database.pooler.instances)


def database_host(settings: StackSettings) -> str:
    """Where the gateway connects: the pooler in front of the primary, or the primary's `-rw` Service."""
    service = POOLER_NAME if settings.database.pooler.enabled else f"{DATABASE_CLUSTER_NAME}-rw"
    return f"{service}.{PLATFORM_NAMESPACE}.svc.cluster.local"
