"""``s3://bucket/prefix?region=R&endpoint=URL&profile=P``: Amazon S3 and S3-compatible stores.

Credentials come from boto3's standard chain (environment, profile, SSO, web identity, instance
role). Create-only writes use ``If-None-Match: *``, so two writers never replace each other.
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
)

_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AllAccessDisabled",
    "AccountProblem",
    "403",
    "401",
}
_THROTTLE_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequests",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "ConditionalRequestConflict",
    "OperationAborted",
}


class S3Store:
    def __init__(
        self, bucket: str, prefix: str, params: dict[str, str], url: str, settings: StoreSettings
    ) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.url = url
        self._params = params
        self._settings = settings
        self._client = Lazy(self._connect)

    @classmethod
    def from_url(cls, url, settings: StoreSettings) -> S3Store:
        url.check_params({"region", "endpoint", "profile"})
        return cls(url.bucket, url.prefix, url.params, url.display, settings)

    @property
    def client(self) -> Any:
        return self._client.get()

    def _connect(self) -> Any:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(profile_name=self._params.get("profile"))
        s = self._settings
        return session.client(
            "s3",
            region_name=self._params.get("region"),
            endpoint_url=self._params.get("endpoint"),
            config=Config(
                connect_timeout=s.connect_timeout,
                read_timeout=s.read_timeout,
                retries={"total_max_attempts": 1, "mode": "standard"},
                max_pool_connections=max(10, s.concurrency),
            ),
        )

    def put(self, key: str, data: bytes) -> None:
        with self._errors(key, writing=True):
            self.client.put_object(
                Bucket=self.bucket, Key=self.prefix + key, Body=data, IfNoneMatch="*"
            )

    def get(self, key: str, limit: int | None = None) -> bytes:
        with self._errors(key, reading_one=True):
            answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            body = answer["Body"]
            try:
                check_size(self.url, key, int(answer["ContentLength"]), limit)
                # One byte past the limit shows a length header that lied, unread beyond.
                data = body.read() if limit is None else body.read(limit + 1)
            finally:
                body.close()
        check_size(self.url, key, len(data), limit)
        return data

    def stat(self, key: str) -> int | None:
        try:
            with self._errors(key, reading_one=True):
                head = self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except ObjectNotFound:
            return None
        return int(head["ContentLength"])

    def list(
        self, prefix: str, limit: int | None = None, start_after: str | None = None
    ) -> list[str]:
        keys: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
        if start_after is not None:
            kwargs["StartAfter"] = self.prefix + start_after
        with self._errors(prefix):
            while True:
                if limit is not None:
                    kwargs["MaxKeys"] = min(1000, limit - len(keys))
                page = self.client.list_objects_v2(**kwargs)
                if "IsTruncated" not in page:
                    # Every ListObjectsV2 answer says whether it is complete; botocore reads a
                    # body cut off before its first element as an empty listing.
                    raise StoreUnavailable(f"{self.url}: {prefix}: the listing was cut short")
                keys.extend(o["Key"][len(self.prefix) :] for o in page.get("Contents", ()))
                if not page.get("IsTruncated") or (limit is not None and len(keys) >= limit):
                    return keys
                kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def close(self) -> None:
        self._client.close()

    @contextmanager
    def _errors(self, key: str, writing: bool = False, reading_one: bool = False) -> Iterator[None]:
        """Translate botocore exceptions raised inside the block into store errors."""
        from botocore import exceptions as bx

        where = f"{self.url}: {key}"
        try:
            yield
        except bx.ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            message = err.get("Message") or code
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ObjectNotFound(f"{where} not found") from None
            if code == "NoSuchBucket":
                raise StoreConfigError(
                    f"{self.url}: bucket {self.bucket!r} does not exist"
                ) from None
            if code in ("PreconditionFailed", "412") and writing:
                raise ObjectExists(f"{where} exists") from None
            if reading_one and code in ("AccessDenied", "403"):
                # S3 answers 403, not 404, for a missing key unless the caller may list the
                # whole bucket; a prefix-scoped reader may not. Its credentials were good
                # enough to list, so treat this as missing and let the next store serve.
                raise ObjectNotFound(f"{where} not found (or access denied)") from None
            if code in _AUTH_CODES or status in (401, 403):
                raise StoreAuthRejected(f"{where}: access denied ({code}: {message})") from None
            if code in _THROTTLE_CODES or status == 429 or status >= 500:
                raise StoreUnavailable(f"{where}: {code or status}: {message}") from None
            raise StoreConfigError(f"{where}: {code}: {message}") from None
        except (
            bx.NoCredentialsError,
            bx.PartialCredentialsError,
            bx.TokenRetrievalError,
            bx.CredentialRetrievalError,
            bx.SSOError,
            bx.SSOTokenLoadError,
            bx.UnauthorizedSSOTokenError,
        ) as exc:
            raise StoreAuthRejected(f"{self.url}: no usable AWS credentials ({exc})") from None
        except (bx.ConnectTimeoutError, bx.ReadTimeoutError) as exc:
            raise StoreUnavailable(
                f"{where}: timed out ({network_reason(exc)})", retry=False
            ) from None
        except (
            bx.EndpointConnectionError,
            bx.ConnectionClosedError,
            bx.ConnectionError,
            bx.HTTPClientError,
        ) as exc:
            raise StoreUnavailable(f"{where}: cannot connect ({network_reason(exc)})") from None
        except (
            bx.NoRegionError,
            bx.InvalidRegionError,
            bx.ParamValidationError,
            bx.ProfileNotFound,
            ValueError,  # botocore's answer to a malformed endpoint URL
        ) as exc:
            raise StoreConfigError(f"{self.url}: {exc}") from None
