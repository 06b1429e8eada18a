"""Remove secrets from any text before it is logged, reported or raised.

Store URLs never need credentials, but users paste SAS URLs and connection strings anyway,
and SDK error messages echo request URLs. Every line the runtime prints goes through here.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "REDACTED"

SECRET_PARAMS = frozenset(
    {
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
    }
)
"""Query and connection-string parameters whose value is a credential (compared lower-case)."""


def _written_or_encoded(chars: str) -> str:
    """One of ``chars`` as written, or percent-encoded once or more: a URL inside a URL's
    query is encoded once (``@`` is ``%40``), a URL inside that twice (``%2540``)."""
    codes = "|".join(f"{ord(c):02X}" for c in chars)
    return f"(?:[{re.escape(chars)}]|%(?:25)*(?:{codes}))"


_COLON, _SLASH, _AT, _EQUALS = map(_written_or_encoded, ":/@=")
_BEFORE_PARAM = _written_or_encoded("?&;,\"'( \t\r\n")
_VALUE_END = _written_or_encoded("&;,\"') \t\r\n")
_NAMES = "|".join(re.escape(p) for p in sorted(SECRET_PARAMS))
# A secret parameter starts the text or follows a separator ("monkey=1" keeps its value), and
# its value runs to the next one.
_QUERY_SECRET = re.compile(
    rf"(?i)(?P<k>(?:^|{_BEFORE_PARAM})(?:{_NAMES}){_EQUALS})(?:(?!{_VALUE_END}).)+"
)
# scheme://user:password@, written or encoded: the password goes, up to the last @ before the
# next / or space (better a host too many than a password character too few).
_USERINFO = re.compile(
    rf"(?i)(?P<head>[a-z][a-z0-9+.-]*{_COLON}{_SLASH}{_SLASH}"
    rf"(?:(?!{_COLON}|{_AT})[^/@:\s])+{_COLON})[^/@\s]+(?={_AT})"
)
_BEARER = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|sharedkey)\s+)\S+")
# Credential-bearing HTTP headers as SDKs print them: 'X-Amz-Security-Token': b'...'
# A header name starts a word: "azure-native:authorization:RoleAssignment" is a type, not one.
_HEADER = re.compile(
    r"(?i)((?<![\w:./-])(?:x-amz-security-token|x-goog-api-key|x-ms-encryption-key|authorization)"
    r"[\"']?\s*:\s*(?!b?[\"']?(?:bearer|sharedkey)\s)b?[\"']?)[^\"'\s,}]+"
)


def redact(text: str) -> str:
    """Return ``text`` with URL passwords, SAS signatures, keys and tokens masked."""
    text = _USERINFO.sub(lambda m: f"{m['head']}{MASK}", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m['k']}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _HEADER.sub(lambda m: f"{m.group(1)}{MASK}", text)


def redact_values(obj: Any) -> Any:
    """``obj`` (a report of dicts, lists and scalars) with every string in it redacted: done
    before it is dumped as JSON, as redacting the dumped text could cut an escape in half
    (a key a store lists may hold ``token=x"``) and leave JSON no parser reads."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact_values(k): redact_values(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_values(v) for v in obj]
    return obj
