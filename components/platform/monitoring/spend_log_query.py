"""A CloudNativePG custom query that exports the age of the oldest LiteLLM spend log.

Nothing else measures whether LiteLLM's spend-log cleanup keeps up: LiteLLM 1.90.6 deletes rows older
than `maximum_spend_logs_retention_period` from a scheduled job (litellm/proxy/db/db_transaction_queue/
spend_log_cleanup.py, every `maximum_spend_logs_retention_interval`, default "1d", proxy_server.py) and
only logs the outcome; its Prometheus callback has no metric for it. The narrowest honest signal is the
age of the oldest row, read by the database's own metrics exporter:

- CloudNativePG 1.30 runs custom queries from `Cluster.spec.monitoring.customQueriesConfigMap` as the
  role `cnpg_metrics_exporter` (member of `pg_monitor`) against the main database, and names each
  column's metric `cnpg_<query>_<column>` (docs/src/monitoring.md, "User defined metrics").
- The role needs exactly one grant, on one column that holds no personal data:
  `GRANT SELECT ("startTime") ON "LiteLLM_SpendLogs" TO cnpg_metrics_exporter;` — after LiteLLM's
  migration has created the table. Until then the predicate keeps the query from running (and failing).
- `LiteLLM_SpendLogs` has `@@index([startTime])` (litellm/proxy/schema.prisma), so `min` is an index read.

Wired where the database is monitored: `database.py` puts the document into the ConfigMap
`kiva-db-monitoring` (labelled `cnpg.io/reload`) that the Cluster names, and the CronJob of
`spend_log_grant.py` runs `GRANT` as the table's owner once the table exists (and again whenever it is
missing). `tests/platform/test_spend_log_grant_sql.py` runs both against a real PostgreSQL.
"""

from __future__ import annotations

from typing import Any

#: Name of the query and of its column: the metric is `cnpg_kiva_spend_logs_oldest_age_seconds`.
QUERY_NAME = "kiva_spend_logs"
COLUMN = "oldest_age_seconds"
METRIC = f"cnpg_{QUERY_NAME}_{COLUMN}"
#: ConfigMap key holding the queries (any key; named in `customQueriesConfigMap[].key`).
CONFIG_MAP_KEY = "queries.yaml"
#: The one grant the query needs (after LiteLLM created the table; `spend_log_grant.py` runs it).
GRANT = 'GRANT SELECT ("startTime") ON public."LiteLLM_SpendLogs" TO cnpg_metrics_exporter;'

_TABLE = "'public.\"LiteLLM_SpendLogs\"'"


def spend_log_queries() -> dict[str, Any]:
    """The custom-queries document (CloudNativePG "Structure of a user defined metric")."""
    return {
        QUERY_NAME: {
            "query": (
                # Prisma's DateTime is `timestamp(3)` holding UTC: compare with the UTC wall clock.
                "SELECT COALESCE(EXTRACT(EPOCH FROM ((pg_catalog.now() AT TIME ZONE 'UTC') "
                "OPERATOR(pg_catalog.-) "
                'pg_catalog.min("startTime"))), 0) AS oldest_age_seconds '
                'FROM public."LiteLLM_SpendLogs"'
            ),
            "primary": True,
            # CASE, not AND: has_column_privilege raises on a table that does not exist yet.
            "predicate_query": (
                f"SELECT CASE WHEN pg_catalog.to_regclass({_TABLE}) IS NULL THEN false "
                f"ELSE pg_catalog.has_column_privilege({_TABLE}, 'startTime', 'SELECT') END"
            ),
            "metrics": [
                {
                    COLUMN: {
                        "usage": "GAUGE",
                        "description": "Age in seconds of the oldest LiteLLM spend log (0 when there is none)",
                    }
                }
            ],
        }
    }
