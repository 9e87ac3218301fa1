"""Pulumi entry point (`main: infra/` in Pulumi.yaml). Everything happens in `infra.program`."""

from infra.program import run

run()
