"""`kiva backend …` commands (issue "Sovereign state backend")."""

import click


@click.group()
def backend() -> None:
    """Create and verify the EU S3-compatible bucket for Pulumi state and database backups."""
