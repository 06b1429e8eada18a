"""Remove secrets from any text before it is logged, reported or raised.

Store URLs never need credentials, but users paste SAS URLs and connection strings anyway,
and SDK error messages echo request URLs. Every line the runtime prints goes through here.
"""

from __future__ import annotations

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
# Credential-bearing HTTP headers as SDKs print them: 'X-Amz-Security-Token': b'...'
# A header name starts a word: "azure-native:authorization:RoleAssignment" is a type, not one.
_HEADER = re.compile(
    r"(?i)((?<![\w:./-])(?:x-amz-security-token|x-goog-api-key|x-ms-encryption-key|authorization)"
    r"[\"']?\s*:\s*(?!b?[\"']?(?:bearer|sharedkey)\s)b?[\"']?)[^\"'\s,}]+"
)


def redact(text: str) -> str:
    """Return ``text`` with URL passwords, SAS signatures, keys and tokens masked."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m['k']}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _HEADER.sub(lambda m: f"{m.group(1)}{MASK}", text)
