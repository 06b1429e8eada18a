"""Store adapters, one module per kind, opened by URL scheme.

This registry names modules and never imports a cloud SDK: an adapter's module is imported
when a URL of its scheme is opened, and the module imports its SDK only when it connects.
"""

from __future__ import annotations

import importlib

from .base import Store, StoreSettings
from .url import StoreURL, check_prefix, format_store_url, parse_store_url

# scheme -> (module under this package, class); the class has from_url(StoreURL, StoreSettings).
ADAPTERS: dict[str, tuple[str, str]] = {
    "s3": ("s3", "S3Store"),
    "gs": ("gcs", "GcsStore"),
    "azureblob": ("azure_blob", "AzureBlobStore"),
    "file": ("local", "LocalStore"),
}


def open_store(url: str, settings: StoreSettings | None = None) -> Store:
    """Open the store at ``url``, wrapped with time bounds, retries and error classification."""
    from .resilience import ResilientStore

    parsed = parse_store_url(url)
    settings = settings or StoreSettings()
    module_name, class_name = ADAPTERS[parsed.scheme]
    module = importlib.import_module(f"{__name__}.{module_name}")
    adapter = getattr(module, class_name).from_url(parsed, settings)
    return ResilientStore(adapter, settings)


__all__ = [
    "ADAPTERS",
    "Store",
    "StoreSettings",
    "StoreURL",
    "check_prefix",
    "format_store_url",
    "open_store",
    "parse_store_url",
]
