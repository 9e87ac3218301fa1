"""A boto3 S3 client for an `S3Url`, with credentials found the standard way (environment, profile)."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ProfileNotFound

from infra.backend.errors import BackendError
from infra.backend.url import S3Url


def make_session(url: S3Url) -> boto3.session.Session:
    try:
        return boto3.session.Session(profile_name=url.profile)
    except ProfileNotFound:
        raise BackendError(f"profile {url.profile!r} not found in the shared AWS config files") from None


def resolve_region(url: S3Url, session: boto3.session.Session) -> str:
    """The URL's `region=`, else what Pulumi's Go SDK would use (AWS_REGION, AWS_DEFAULT_REGION, profile).

    Local only: nothing is contacted to find the region.
    """
    region = url.region or os.environ.get("AWS_REGION") or session.region_name
    if not region:
        raise BackendError("no region: add region=… to the URL (or set AWS_REGION)")
    return region


def make_client(url: S3Url, session: boto3.session.Session, region: str) -> Any:
    """An S3 client; raises `BackendError` when no credentials are configured (never prints them)."""
    try:
        if session.get_credentials() is None:
            raise BackendError(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or profile= in the URL"
            )
        config = Config(
            region_name=region,
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 2, "mode": "standard"},
            s3={"addressing_style": "path" if url.path_style else "auto"},
        )
        return session.client("s3", endpoint_url=url.endpoint_url, config=config)
    except BotoCoreError as error:
        raise BackendError(f"cannot set up the S3 client: {error}") from None
