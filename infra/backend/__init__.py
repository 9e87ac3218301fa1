"""Sovereign Pulumi state backend: bootstrap and verify an EU S3-compatible bucket."""
