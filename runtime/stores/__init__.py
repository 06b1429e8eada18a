"""Store adapters, one module per kind, opened by URL scheme.

This registry names modules and never imports a cloud SDK: an adapter's module is imported
when a URL of its scheme is opened, and the module imports its SDK only when it connects.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import BadInput
from ..redact import redact
from .base import Store, StoreSettings

# scheme -> (module under this package, class); the class has from_url(StoreURL, StoreSettings).
ADAPTERS: dict[str, tuple[str, str]] = {
    "s3": ("s3", "S3Store"),
    "gs": ("gcs", "GcsStore"),
    "azureblob": ("azure_blob", "AzureBlobStore"),
    "file": ("local", "LocalStore"),
    "mem": ("memory", "MemoryStore"),
}


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


def parse_store_url(url: str) -> StoreURL:
    """Parse and check the syntax of a store URL; raise BadInput with the reason if malformed."""
    display = redact(url)
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
    params: dict[str, str] = {}
    for key, value in params_list:
        if key in params:
            raise BadInput(f"malformed store URL {display!r}: parameter {key!r} given twice")
        params[key] = value
    path = unquote(parts.path)
    if scheme == "file":
        bucket, prefix = "", (parts.netloc + path if parts.netloc else path)
    else:
        bucket, prefix = unquote(parts.netloc), path
        if not bucket:
            raise BadInput(f"malformed store URL {display!r}: no bucket or container name")
        if "@" in bucket or ":" in bucket:
            raise BadInput(
                f"malformed store URL {display!r}: credentials and ports do not belong in the "
                "URL; use the SDK's credential chain and the endpoint= parameter"
            )
    if any(seg in (".", "..") for seg in prefix.split("/")):
        raise BadInput(f"malformed store URL {display!r}: '.' and '..' are not allowed in the path")
    if scheme != "file":
        prefix = prefix.strip("/")
    return StoreURL(scheme=scheme, bucket=bucket, prefix=prefix, params=params, display=display)


def open_store(url: str, settings: StoreSettings | None = None) -> Store:
    """Open the store at ``url``, wrapped with time bounds, retries and error classification."""
    from .resilience import ResilientStore

    parsed = parse_store_url(url)
    settings = settings or StoreSettings()
    module_name, class_name = ADAPTERS[parsed.scheme]
    module = importlib.import_module(f"{__name__}.{module_name}")
    adapter = getattr(module, class_name).from_url(parsed, settings)
    return ResilientStore(adapter, settings)


__all__ = ["ADAPTERS", "Store", "StoreSettings", "StoreURL", "open_store", "parse_store_url"]
