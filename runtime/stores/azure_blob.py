"""``azureblob://container/prefix?storage_account=A&endpoint=URL``: Azure Blob Storage.

``AZURE_STORAGE_CONNECTION_STRING`` is honoured when set (emulators, keys, SAS); otherwise the
account endpoint is reached with azure-identity's DefaultAzureCredential (environment,
workload identity, managed identity, Azure CLI). Create-only writes use ``If-None-Match: *``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .base import (
    Lazy,
    ObjectExists,
    ObjectNotFound,
    StoreAuthRejected,
    StoreConfigError,
    StoreSettings,
    StoreUnavailable,
    check_size,
    network_reason,
    widen_http_pool,
)

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
FIRST_GET_BYTES = 4 * 1024 * 1024


def _check_connection_string_account(where: str, account: str | None) -> None:
    """A connection string, when set, is what the store connects with: refuse one for another
    account than the URL names, which would read and write there instead, silently (and make
    two "different" stores one)."""
    conn = os.environ.get(CONNECTION_STRING_ENV)
    if not conn or not account:
        return
    fields = dict(part.split("=", 1) for part in conn.split(";") if "=" in part)
    named = fields.get("AccountName")
    if named is not None and named != account:
        raise StoreConfigError(
            f"{where}: storage_account={account}, but {CONNECTION_STRING_ENV} is for account "
            f"{named!r}; unset it, or give that account's URL"
        )


class AzureBlobStore:
    def __init__(
        self, container: str, prefix: str, params: dict[str, str], url: str, settings: StoreSettings
    ) -> None:
        self.container = container
        self.prefix = f"{prefix}/" if prefix else ""
        self.url = url
        self._params = params
        self._settings = settings
        self._client = Lazy(self._connect)

    @classmethod
    def from_url(cls, url, settings: StoreSettings) -> AzureBlobStore:
        url.check_params({"storage_account", "endpoint"})
        if not (
            url.params.get("endpoint")
            or url.params.get("storage_account")
            or os.environ.get(CONNECTION_STRING_ENV)
        ):
            raise StoreConfigError(
                f"{url.display}: name the account with ?storage_account=NAME (or endpoint=URL), "
                f"or set {CONNECTION_STRING_ENV}"
            )
        _check_connection_string_account(url.display, url.params.get("storage_account"))
        return cls(url.bucket, url.prefix, url.params, url.display, settings)

    @property
    def client(self) -> Any:
        with self._errors("connect"):
            return self._client.get()

    def _connect(self) -> Any:
        import requests
        from azure.core.pipeline.transport import RequestsTransport
        from azure.storage.blob import ContainerClient

        s = self._settings
        session = requests.Session()
        widen_http_pool(session, s.concurrency)
        options = {
            # The SDK applies these two to its own transport only: give them to ours too.
            "transport": RequestsTransport(
                session=session,
                session_owner=True,
                connection_timeout=s.connect_timeout,
                read_timeout=s.read_timeout,
            ),
            "connection_timeout": s.connect_timeout,
            "read_timeout": s.read_timeout,
            "retry_total": 0,
            "max_single_put_size": 64 * 1024 * 1024,
            # The first answer of a download carries the blob's size: keep it small, so an
            # object too large is refused after reading at most this much.
            "max_single_get_size": FIRST_GET_BYTES,
            "max_chunk_get_size": FIRST_GET_BYTES,
        }
        conn = os.environ.get(CONNECTION_STRING_ENV)
        if conn:
            return ContainerClient.from_connection_string(conn, self.container, **options)
        from azure.identity import DefaultAzureCredential

        account = self._params.get("storage_account")
        endpoint = self._params.get("endpoint") or f"https://{account}.blob.core.windows.net"
        return ContainerClient(
            endpoint, self.container, credential=DefaultAzureCredential(), **options
        )

    def put(self, key: str, data: bytes) -> None:
        with self._errors(key, writing=True):
            self.client.upload_blob(self.prefix + key, data, overwrite=False, length=len(data))

    def get(self, key: str, limit: int | None = None) -> bytes:
        with self._errors(key):
            download = self.client.download_blob(self.prefix + key)
            check_size(self.url, key, int(download.size), limit)
            data = download.readall()
        check_size(self.url, key, len(data), limit)
        return data

    def stat(self, key: str) -> int | None:
        try:
            with self._errors(key):
                props = self.client.get_blob_client(self.prefix + key).get_blob_properties()
        except ObjectNotFound:
            return None
        return int(props.size)

    def list(
        self, prefix: str, limit: int | None = None, start_after: str | None = None
    ) -> list[str]:
        # Azure lists from the first name: what sorts before start_after is paged past.
        keys: list[str] = []
        with self._errors(prefix):
            names = self.client.list_blob_names(
                name_starts_with=self.prefix + prefix, results_per_page=min(limit or 5000, 5000)
            )
            for name in names:
                key = name[len(self.prefix) :]
                if start_after is not None and key <= start_after:
                    continue
                keys.append(key)
                if limit is not None and len(keys) >= limit:
                    break
        return keys

    def close(self) -> None:
        self._client.close()

    @contextmanager
    def _errors(self, key: str, writing: bool = False) -> Iterator[None]:
        """Translate azure-core exceptions into store errors."""
        from azure.core import exceptions as zx

        where = f"{self.url}: {key}"
        try:
            yield
        except zx.ResourceExistsError:
            if not writing:
                raise
            raise ObjectExists(f"{where} exists") from None
        except zx.ResourceNotFoundError as exc:
            if getattr(exc, "error_code", None) == "ContainerNotFound":
                raise StoreConfigError(
                    f"{self.url}: container {self.container!r} does not exist"
                ) from None
            raise ObjectNotFound(f"{where} not found") from None
        except zx.ClientAuthenticationError as exc:
            raise StoreAuthRejected(f"{where}: access denied ({_first_line(exc)})") from None
        except zx.ServiceRequestError as exc:  # could not connect or send
            retry = "timed out" not in str(exc).lower()
            raise StoreUnavailable(
                f"{where}: cannot connect ({network_reason(exc)})", retry=retry
            ) from None
        except zx.DecodeError as exc:  # a body cut short, or not what Azure sends
            raise StoreUnavailable(
                f"{where}: the answer was cut short or garbled ({_first_line(exc)})", retry=False
            ) from None
        except zx.ServiceResponseError as exc:  # sent, but no answer in time
            raise StoreUnavailable(
                f"{where}: no answer ({_first_line(exc)})", retry=False
            ) from None
        except zx.HttpResponseError as exc:
            status = exc.status_code or 0
            if status < 400:  # no status (the body broke off), or a success it cannot read
                raise StoreUnavailable(
                    f"{where}: the answer was cut short or garbled ({_first_line(exc)})",
                    retry=False,
                ) from None
            if status in (401, 403):
                raise StoreAuthRejected(f"{where}: access denied ({_first_line(exc)})") from None
            if status == 429 or status >= 500:
                raise StoreUnavailable(f"{where}: {status}: {_first_line(exc)}") from None
            raise StoreConfigError(f"{where}: {status}: {_first_line(exc)}") from None
        except ValueError as exc:  # malformed connection string or account URL
            raise StoreConfigError(f"{self.url}: {exc}") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
