"""``gs://bucket/prefix``: Google Cloud Storage.

Credentials come from Application Default Credentials; ``STORAGE_EMULATOR_HOST`` (the client
library's own variable) points the client at an emulator. Create-only writes use
``ifGenerationMatch=0``.
"""

from __future__ import annotations

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


class GcsStore:
    def __init__(self, bucket: str, prefix: str, url: str, settings: StoreSettings) -> None:
        self.bucket_name = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.url = url
        self._timeout = (settings.connect_timeout, settings.read_timeout)
        self._pool = settings.concurrency
        self._bucket = Lazy(self._connect)

    @classmethod
    def from_url(cls, url, settings: StoreSettings) -> GcsStore:
        url.check_params(set())
        return cls(url.bucket, url.prefix, url.display, settings)

    @property
    def bucket(self) -> Any:
        with self._errors("connect"):
            return self._bucket.get()

    def _connect(self) -> Any:
        from google.cloud import storage

        client = storage.Client()
        widen_http_pool(client._http, self._pool)
        return client.bucket(self.bucket_name)

    def put(self, key: str, data: bytes) -> None:
        with self._errors(key, writing=True, missing_means_no_bucket=True):
            self.bucket.blob(self.prefix + key).upload_from_string(
                data,
                if_generation_match=0,
                timeout=self._timeout,
                retry=None,
                content_type="application/octet-stream",
            )

    def get(self, key: str, limit: int | None = None) -> bytes:
        from google.api_core.exceptions import RequestRangeNotSatisfiable

        blob = self.bucket.blob(self.prefix + key)
        with self._errors(key):
            try:
                # A ranged read stops one byte past the limit, however large the object.
                data = blob.download_as_bytes(
                    start=0 if limit is not None else None,
                    end=limit,
                    timeout=self._timeout,
                    retry=None,
                )
            except RequestRangeNotSatisfiable:  # a range from 0 misses only an empty object
                data = b""
        check_size(self.url, key, len(data), limit)
        return data

    def stat(self, key: str) -> int | None:
        with self._errors(key):
            blob = self.bucket.get_blob(self.prefix + key, timeout=self._timeout, retry=None)
        return None if blob is None else int(blob.size)

    def list(
        self, prefix: str, limit: int | None = None, start_after: str | None = None
    ) -> list[str]:
        # GCS's start_offset includes its own name: ask for one more, drop that one.
        extra = 0 if start_after is None else 1
        with self._errors(prefix, missing_means_no_bucket=True):
            blobs = self.bucket.client.list_blobs(
                self.bucket_name,
                prefix=self.prefix + prefix,
                max_results=None if limit is None else limit + extra,
                start_offset=None if start_after is None else self.prefix + start_after,
                timeout=self._timeout,
                retry=None,
            )
            keys = [b.name[len(self.prefix) :] for b in blobs]
        keys = [k for k in keys if start_after is None or k > start_after]
        return keys if limit is None else keys[:limit]

    def close(self) -> None:
        self._bucket.close(lambda bucket: bucket.client.close())

    @contextmanager
    def _errors(
        self, key: str, writing: bool = False, missing_means_no_bucket: bool = False
    ) -> Iterator[None]:
        """Translate google-cloud and transport exceptions into store errors.

        A 404 on a write or a listing can only mean the bucket is missing."""
        import json

        import requests
        from google.api_core import exceptions as gx
        from google.auth import exceptions as ax

        where = f"{self.url}: {key}"
        try:
            yield
        except gx.PreconditionFailed:
            raise ObjectExists(f"{where} exists") from None
        except gx.NotFound as exc:
            if missing_means_no_bucket or "specified bucket does not exist" in str(exc.message):
                raise StoreConfigError(
                    f"{self.url}: bucket {self.bucket_name!r} does not exist"
                ) from None
            raise ObjectNotFound(f"{where} not found") from None
        except (gx.Unauthorized, gx.Forbidden) as exc:
            raise StoreAuthRejected(f"{where}: access denied ({exc.message})") from None
        except ax.DefaultCredentialsError as exc:
            raise StoreAuthRejected(f"{self.url}: no usable Google credentials ({exc})") from None
        except ax.RefreshError as exc:
            raise StoreAuthRejected(f"{self.url}: credentials rejected ({exc})") from None
        except (gx.TooManyRequests, gx.ServerError) as exc:
            raise StoreUnavailable(f"{where}: {exc.code}: {exc.message}") from None
        except (requests.Timeout, ax.TransportError) as exc:
            retry = not isinstance(exc, requests.Timeout)
            raise StoreUnavailable(
                f"{where}: timed out or unreachable ({network_reason(exc)})", retry=retry
            ) from None
        except requests.ConnectionError as exc:
            raise StoreUnavailable(f"{where}: cannot connect ({network_reason(exc)})") from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            # The answer was cut short or garbled on the way: a broken link, not bad input.
            raise StoreUnavailable(f"{where}: the answer was cut short", retry=False) from None
        except json.JSONDecodeError:
            raise StoreUnavailable(f"{where}: the answer is not what GCS sends") from None
        except gx.GoogleAPICallError as exc:
            raise StoreConfigError(f"{where}: {exc.code}: {exc.message}") from None
