"""The `pulumi login` s3:// URL, read the way gocloud's s3blob opener reads it."""

from __future__ import annotations

import pytest

from infra.backend.errors import BackendError
from infra.backend.region import require_eu_region
from infra.backend.url import parse_s3_url


def test_minio_url_with_host_port_and_plain_http() -> None:
    url = parse_s3_url(
        "s3://kiva-state?endpoint=minio.local:9000&disableSSL=true&s3ForcePathStyle=true&region=eu-de"
    )
    assert url.bucket == "kiva-state"
    assert url.endpoint_url == "http://minio.local:9000"
    assert url.path_style is True
    assert url.region == "eu-de"
    assert url.profile is None


def test_host_only_endpoint_defaults_to_https_and_prefix_is_kept() -> None:
    url = parse_s3_url(
        "s3://kiva-state/platform/dev?endpoint=s3.eu-central-1.ionoscloud.com&region=eu-central-1"
    )
    assert url.endpoint_url == "https://s3.eu-central-1.ionoscloud.com"
    assert url.prefix == "platform/dev"
    assert url.path_style is False


def test_explicit_scheme_wins_over_disable_ssl() -> None:
    url = parse_s3_url(
        "s3://kiva-state?endpoint=https://obs.eu-de.otc.t-systems.com&disableSSL=true&region=eu-de"
    )
    assert url.endpoint_url == "https://obs.eu-de.otc.t-systems.com"


def test_sdk_v2_parameter_names_and_profile() -> None:
    url = parse_s3_url(
        "s3://kiva-state?endpoint=127.0.0.1:9000&disable_https=1&use_path_style=True&profile=minio&awssdk=v2"
    )
    assert url.endpoint_url == "http://127.0.0.1:9000"
    assert url.path_style is True
    assert url.profile == "minio"


def test_aws_url_without_endpoint() -> None:
    url = parse_s3_url("s3://kiva-state?region=eu-central-1")
    assert url.endpoint_url is None
    assert url.region == "eu-central-1"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("s4:/nonsense", "not an s3:// URL"),
        ("azblob://state", "azblob:// backends need no bucket bootstrap"),
        ("s3://", "bucket name"),
        ("s3://Kiva_State", "bucket name"),
        ("s3://kiva-state?insecure=true", "unknown query parameter 'insecure'"),
        ("s3://kiva-state?s3ForcePathStyle=yes", "invalid value for query parameter 's3ForcePathStyle'"),
        ("s3://kiva-state?role=arn:aws:iam::1:role/x", "not supported"),
        ("s3://kiva-state?endpoint=https://user:pw@minio.local", "must not carry credentials"),
        ("s3://kiva-state?endpoint=ftp://minio.local", "not an http(s) URL"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(text: str, fragment: str) -> None:
    with pytest.raises(BackendError, match=None) as caught:
        parse_s3_url(text)
    assert fragment in str(caught.value)


@pytest.mark.parametrize("region", ["eu-central-1", "de", "eu01", "eu-de", "eu-nl", "eu-north-1"])
def test_eu_regions_are_allowed(region: str) -> None:
    assert require_eu_region(region) == region


@pytest.mark.parametrize(("region", "why"), [("us-east-1", "US"), ("eu-central-2", "CH"), ("eu-west-2", "GB"),
                                             ("mars-1", "not a region KIVA knows")])  # fmt: skip
def test_non_eu_regions_are_refused(region: str, why: str) -> None:
    with pytest.raises(BackendError) as caught:
        require_eu_region(region)
    assert why in str(caught.value)
