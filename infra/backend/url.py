"""Parse the `s3://` URL exactly as the user gives it to `pulumi login`.

Pulumi's DIY backend opens the URL with gocloud.dev's `s3blob` opener. The query parameters it reads:

- `region`: the region for requests (and, here, the region the bucket is created in);
- `endpoint`: host name only (`s3.example.com:9000`) or a full URI (`https://s3.example.com`);
  without a scheme, `https://` is used, or `http://` with `disableSSL=true`;
- `disableSSL` (SDK v1 name) / `disable_https` (SDK v2 name): plain HTTP to the endpoint;
- `s3ForcePathStyle` (v1) / `use_path_style` (v2): path-style addressing, which MinIO needs;
- `profile`: the shared-config profile (`~/.aws/credentials`, `~/.aws/config`);
- `awssdk`: `v1` or `v2`, which AWS SDK the opener uses (irrelevant here).

Booleans are parsed like Go's `strconv.ParseBool`. A parameter gocloud does not know makes
`pulumi login` fail with "unknown query parameter", so it is refused here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from infra.backend.errors import BackendError

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}

#: Parameters gocloud's S3 opener accepts that do not change where or how the bucket is reached.
_IGNORED = frozenset(
    {
        "awssdk",
        "hostname_immutable",
        "dualstack",
        "fips",
        "rate_limiter_capacity",
        "request_checksum_calculation",
        "response_checksum_validation",
        "accelerate",
        "ssetype",
        "kmskeyid",
    }
)
_KNOWN = frozenset(
    {"region", "endpoint", "disableSSL", "disable_https", "s3ForcePathStyle", "use_path_style", "profile"}
)
#: Accepted by gocloud, but they change whose credentials are used; `kiva backend` does not follow them.
_UNSUPPORTED = {
    "role": "assume the role yourself (e.g. a profile with role_arn) and use profile=",
    "anonymous": "creating and configuring a bucket needs credentials",
}

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Url:
    """Where the bucket is and how to reach it. Holds no credentials."""

    bucket: str
    prefix: str
    region: str | None
    """`None` when the URL names none: then the SDK's environment or profile decides."""
    endpoint_url: str | None
    """A full URL with scheme, or `None` for AWS itself."""
    path_style: bool
    profile: str | None

    def describe(self) -> str:
        where = self.endpoint_url or "AWS S3"
        return f"bucket {self.bucket} at {where}"


def _bool(name: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BackendError(f"invalid value for query parameter {name!r}: {value!r} (use true or false)")


def _endpoint_url(endpoint: str, disable_ssl: bool) -> str:
    if "://" in endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(f"endpoint {endpoint!r} is not an http(s) URL or a host name")
        if parts.username or parts.password:
            raise BackendError("the endpoint must not carry credentials; use the environment or profile=")
        return endpoint.rstrip("/")
    if "@" in endpoint or "/" in endpoint or not endpoint:
        raise BackendError(f"endpoint {endpoint!r} is not a host name (host or host:port)")
    return f"{'http' if disable_ssl else 'https'}://{endpoint}"


def parse_s3_url(text: str) -> S3Url:
    """Parse `s3://BUCKET[/PREFIX]?…`; raise `BackendError` naming what is wrong."""
    parts = urlsplit(text.strip())
    if parts.scheme != "s3":
        hint = ""
        if parts.scheme in ("azblob", "file", "gs", "postgres"):
            hint = f"; {parts.scheme}:// backends need no bucket bootstrap by kiva"
        raise BackendError(f"not an s3:// URL: {text!r} (expected s3://BUCKET?region=…&endpoint=…){hint}")
    bucket = parts.netloc
    if "@" in bucket:
        raise BackendError("the URL must not carry credentials; use the environment or profile=")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise BackendError(
            f"bucket name {bucket!r} is not valid: 3-63 characters, lowercase letters, digits, '.' and '-'"
        )
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    except ValueError as error:
        raise BackendError(f"cannot read the query of {text!r}: {error}") from None
    values = {name: items[0] for name, items in query.items()}
    for name in values:
        if name in _UNSUPPORTED:
            raise BackendError(
                f"query parameter {name!r} is not supported by kiva backend: {_UNSUPPORTED[name]}"
            )
        if name not in _KNOWN and name not in _IGNORED:
            raise BackendError(f"unknown query parameter {name!r} (pulumi login would refuse it too)")
    disable_ssl = any(_bool(n, values[n]) for n in ("disableSSL", "disable_https") if n in values)
    path_style = any(_bool(n, values[n]) for n in ("s3ForcePathStyle", "use_path_style") if n in values)
    endpoint = values.get("endpoint")
    return S3Url(
        bucket=bucket,
        prefix=parts.path.strip("/"),
        region=values.get("region") or None,
        endpoint_url=_endpoint_url(endpoint, disable_ssl) if endpoint is not None else None,
        path_style=path_style,
        profile=values.get("profile") or None,
    )
