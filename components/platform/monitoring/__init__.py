"""Observability as code: the Prometheus stack, its scrape targets, dashboards and alerts."""
