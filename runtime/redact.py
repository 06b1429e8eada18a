"""Remove secrets from any text before it is logged, reported or raised.

Store URLs never need credentials, but users paste SAS URLs and connection strings anyway,
and SDK error messages echo request URLs. Every line the runtime prints goes through here.
"""

from __future__ import annotations

import logging
import re

MASK = "REDACTED"

_SECRET_PARAMS = (
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "x-goog-credential",
    "token",
    "access_token",
    "sas",
    "sas_token",
    "password",
    "secret",
    "key",
    "accountkey",
    "sharedaccesssignature",
    "client_secret",
)
# A secret parameter starts the text or follows a separator: "monkey=1" keeps its value.
_QUERY_SECRET = re.compile(
    r"(?i)(?P<k>(?:^|(?<=[?&;,\s\"'(]))(?:"
    + "|".join(re.escape(p) for p in _SECRET_PARAMS)
    + r")=)[^&;,\s\"')]+"
)
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/@:\s]+):[^/@\s]+@", re.I)
_BEARER = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|sharedkey)\s+)\S+")


def redact(text: str) -> str:
    """Return ``text`` with URL passwords, SAS signatures, keys and tokens masked."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m['k']}{MASK}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", text)


class RedactingFilter(logging.Filter):
    """Logging filter that redacts the fully formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True
