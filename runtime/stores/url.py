"""Store URLs: the one parser, the one formatter, and the one rule for prefixes.

This is the contract between the runtime and ``infra/``: a component builds its ``store_url``
output with :func:`format_store_url` and scopes its identities with :func:`check_prefix`, so
what it provisions is exactly what the runtime reads. Nothing here imports a cloud SDK or Pulumi.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlsplit

from .. import layout
from ..errors import BadInput
from ..redact import SECRET_PARAMS, redact

CLOUD_SCHEMES = ("s3", "gs", "azureblob")
"""Schemes whose URL names a bucket (or container) and a prefix inside it."""

PREFIX_SEGMENT = re.compile(r"[A-Za-z0-9_.-]+")
"""One segment of a cloud store's prefix. Narrower than what S3, GCS or Azure accept, so a
prefix can be embedded verbatim in an IAM resource ARN, a CEL condition and an Azure ABAC
expression without quoting: no wildcard, no quote, no space. Matched whole (``fullmatch``):
``$`` would let a final newline through into those documents."""
PREFIX_MAX = 512

ACCESS_PARAMS = frozenset({"region", "profile"})
"""Parameters that say how to reach or sign for a store, not which store it is."""

CREDENTIALS_GO_ELSEWHERE = (
    "credentials never go in a store URL: each store's SDK finds them in its own chain "
    "(environment variables, a profile, a workload or managed identity; for Azure also "
    "AZURE_STORAGE_CONNECTION_STRING)"
)


def check_prefix(prefix: str | None, where: str = "store URL") -> str:
    """The prefix of a cloud store, without leading or trailing ``/``; BadInput if it breaks
    the rule: one or more ``/``-separated segments of letters, digits, ``.``, ``_`` and ``-``,
    none of them ``.`` or ``..``, at most 512 characters.

    A prefix is required: the runtime keeps its objects under it, and the identities
    the components provision are scoped to it (an empty prefix would mean the whole bucket).
    """
    if prefix is not None and not isinstance(prefix, str):
        raise BadInput(f"{where}: the prefix must be a string, not {type(prefix).__name__}")
    value = (prefix or "").strip("/")
    if not value:
        raise BadInput(
            f"{where}: a prefix is required (scheme://bucket/PREFIX): the runtime keeps its "
            "objects, and identities are scoped, under it"
        )
    if len(value) > PREFIX_MAX:
        raise BadInput(f"{where}: the prefix is longer than {PREFIX_MAX} characters")
    for segment in value.split("/"):
        if segment in ("", ".", "..") or not PREFIX_SEGMENT.fullmatch(segment):
            raise BadInput(
                f"{where}: prefix {value!r}: segments may hold letters, digits, '.', '_' and "
                "'-' only (no empty, '.' or '..' segment, no wildcard)"
            )
        if f"{segment}/" == layout.ROOT:
            raise BadInput(
                f"{where}: prefix {value!r} points inside a store's own {layout.ROOT} folder; "
                "give the store's URL itself (the part before it)"
            )
    return value


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL: ``scheme://bucket/prefix?param=value``."""

    scheme: str
    bucket: str
    prefix: str
    params: dict[str, str] = field(default_factory=dict)
    display: str = ""
    """The URL as given, secrets redacted."""

    def check_params(self, allowed: set[str]) -> None:
        """Refuse parameters the adapter does not know, and an ``endpoint=`` that is not HTTP."""
        unknown = sorted(set(self.params) - allowed)
        if unknown:
            allowed_text = ", ".join(sorted(allowed)) or "none"
            raise BadInput(
                f"{self.display}: unknown parameter {', '.join(unknown)} "
                f"(allowed for {self.scheme}://: {allowed_text})"
            )
        endpoint = self.params.get("endpoint")
        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            raise BadInput(f"{self.display}: endpoint must be an http:// or https:// URL")

    def format(self) -> str:
        """The URL again, in canonical form: ``parse_store_url(u.format()) == u``."""
        return format_store_url(self.scheme, self.bucket, self.prefix, self.params)

    @property
    def identity(self) -> tuple[str, ...]:
        """Which store this is, however the URL spells it: the scheme, the bucket, the prefix
        and the parameters that locate it (an endpoint, an account; not a region or a
        profile); for a folder, its absolute path with links resolved."""
        if self.scheme == "file":
            return (self.scheme, os.path.realpath(os.path.expanduser(self.prefix)))
        where = sorted(
            (k, _endpoint_identity(v) if k == "endpoint" else v)
            for k, v in self.params.items()
            if k not in ACCESS_PARAMS
        )
        return (self.scheme, self.bucket, self.prefix, *(f"{k}={v}" for k, v in where))


def _endpoint_identity(endpoint: str) -> str:
    """``endpoint`` as compared: scheme and host in lower case, no default port, no final /."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:  # refused when the store opens; compared as given until then
        return endpoint
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


def distinct_stores(urls: Sequence[str], names: Sequence[str] | None = None) -> list[StoreURL]:
    """Parse ``urls``; BadInput naming the pair when two of them are one store, spelled alike
    or not: one store counted as two would report a copy that does not exist. ``names`` says
    how the user gave each (a --cache-dir folder), when not as the URL itself."""
    parsed = [parse_store_url(url) for url in urls]
    shown = list(names) if names is not None else [u.display for u in parsed]
    seen: dict[tuple[str, ...], int] = {}
    for i, url in enumerate(parsed):
        first = seen.setdefault(url.identity, i)
        if first != i:
            same = (
                f"{shown[i]} is given twice"
                if shown[first] == shown[i]
                else f"{shown[first]} and {shown[i]} are the same store"
            )
            raise BadInput(f"{same}: give each store once")
    return parsed


def parse_store_url(url: str) -> StoreURL:
    """Parse and check the syntax of a store URL; raise BadInput with the reason if malformed."""
    from . import ADAPTERS

    display = redact(url) if isinstance(url, str) else repr(url)
    if not isinstance(url, str) or "://" not in url:
        raise BadInput(f"malformed store URL {display!r}: expected scheme://bucket/prefix")
    try:
        parts = urlsplit(url)
        params_list = parse_qsl(
            parts.query, keep_blank_values=True, strict_parsing=bool(parts.query)
        )
    except ValueError as exc:
        raise BadInput(f"malformed store URL {display!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ADAPTERS:
        known = ", ".join(f"{s}://" for s in ADAPTERS)
        raise BadInput(
            f"unknown store URL scheme {scheme + '://'!r} in {display!r} (known: {known})"
        )
    if parts.fragment:
        raise BadInput(f"malformed store URL {display!r}: fragments (#...) are not allowed")
    # Checked before anything else is said about the URL: no message may quote a credential.
    if "@" in unquote(parts.netloc):
        raise BadInput(f"{_bare(parts)}: a user name or password; {CREDENTIALS_GO_ELSEWHERE}")
    params: dict[str, str] = {}
    for key, value in params_list:
        if key.lower() in SECRET_PARAMS:
            raise BadInput(
                f"{_bare(parts)}: parameter {key!r} is a credential; {CREDENTIALS_GO_ELSEWHERE}"
            )
        carried = _credential_in(value)
        if carried:
            raise BadInput(
                f"{_bare(parts)}: parameter {key!r} carries {carried}; {CREDENTIALS_GO_ELSEWHERE}"
            )
        if key in params:
            raise BadInput(f"malformed store URL {display!r}: parameter {key!r} given twice")
        params[key] = value
    path = unquote(parts.path)
    if scheme == "file":
        bucket, prefix = "", (parts.netloc + path if parts.netloc else path)
        if any(seg in (".", "..") for seg in prefix.split("/")):
            raise BadInput(
                f"malformed store URL {display!r}: '.' and '..' are not allowed in the path"
            )
        if "\0" in prefix:  # no file system takes one: os calls would fail with ValueError
            raise BadInput(f"malformed store URL {display!r}: a path cannot hold a NUL byte")
    else:
        bucket = unquote(parts.netloc)
        if not bucket:
            raise BadInput(f"malformed store URL {display!r}: no bucket or container name")
        if ":" in bucket:
            raise BadInput(
                f"malformed store URL {display!r}: a port does not belong in the bucket's "
                "place; give a store's address with the endpoint= parameter"
            )
        prefix = check_prefix(path, f"store URL {display!r}")
    return StoreURL(scheme=scheme, bucket=bucket, prefix=prefix, params=params, display=display)


def _bare(parts: SplitResult) -> str:
    """The URL without its query and user name or password: what a message about a credential
    in it may quote."""
    return f"store URL {parts.scheme}://{unquote(parts.netloc).rpartition('@')[2]}{parts.path}"


def _credential_in(value: str) -> str | None:
    """What credential ``value``, when it is a URL (an endpoint), carries: a user name or
    password, or a secret parameter; None if none. It is decoded as often as it was encoded
    (a URL inside a query is encoded once, and a user may have encoded it once more)."""
    while True:  # each pass decodes, so the value shrinks until nothing is left to decode
        try:
            parts = urlsplit(value)
            names = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
        except ValueError:  # not a URL: nothing of a URL's to carry
            return None
        if "@" in parts.netloc:
            return "a user name or password"
        secret = next((k for k in names if k.lower() in SECRET_PARAMS), None)
        if secret:
            return f"the secret parameter {secret!r}"
        decoded = unquote(value)
        if decoded == value:
            return None
        value = decoded


def format_store_url(
    scheme: str, bucket: str, prefix: str, params: Mapping[str, str] | None = None
) -> str:
    """The store URL of ``prefix`` in ``bucket``: the inverse of :func:`parse_store_url`.

    Parameters keep the order given. Raises BadInput for a prefix that breaks the rule, so a
    component can never output a URL the runtime would refuse.
    """
    query = "&".join(
        f"{quote(str(k), safe='')}={quote(str(v), safe=':/')}" for k, v in (params or {}).items()
    )
    tail = f"?{query}" if query else ""
    if scheme == "file":
        return f"file://{quote(prefix)}{tail}"
    if scheme not in CLOUD_SCHEMES:
        raise BadInput(f"unknown store URL scheme {scheme!r}")
    if not bucket or "/" in bucket:
        raise BadInput(f"{scheme}:// needs one bucket or container name, not {bucket!r}")
    prefix = check_prefix(prefix, f"{scheme}://{bucket}")
    return f"{scheme}://{quote(bucket, safe='')}/{prefix}{tail}"
