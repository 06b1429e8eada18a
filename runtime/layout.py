"""Every object key the runtime reads or writes, in one place (docs/FORMAT.md describes them).

Keys are relative to the store's prefix, and all start with ``atlas-continuity/``, a folder no
other tool picks, so Atlas's own ``repo.backup`` objects can share the prefix (and the URL):

atlas-continuity/registry/<repo>/packs/sha256/<hex>              a version's files, compressed
atlas-continuity/registry/<repo>/manifests/sha256/<hex>.json     one version; <hex> is its digest
atlas-continuity/registry/<repo>/tags/<tag>/<inverted-ns>-<hex>.json  a tag event
atlas-continuity/grants/<name>/<inverted-ns>-<hex>.json               a grant snapshot

Tag events and grant snapshots are append-only series: each object is named by its time,
inverted so that the newest sorts first, and by the SHA-256 of its own bytes.
"""

from __future__ import annotations

import re

from .errors import BadInput

FORMAT_VERSION = 2

ROOT = "atlas-continuity/"
"""The runtime's own folder under a store's prefix."""
REGISTRY = f"{ROOT}registry/"
GRANTS = f"{ROOT}grants/"
SUBTREES = (REGISTRY, GRANTS)
"""The only key prefixes the runtime writes under: what writer identities are scoped to."""

# \Z, not $: a name becomes a key segment and an IAM resource, and $ lets a final newline in.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")
# Inverted nanosecond timestamps, fixed width, so that byte order is newest-first.
_INVERT_BASE = 10**19 - 1
_SERIES_NAME = re.compile(r"^(\d{19})-([0-9a-f]{64})\.json\Z")


def object_name(prefix: str, key: str) -> str:
    """The full object name of ``key`` in a store whose URL has ``prefix``: what identities'
    policies and conditions name (``<prefix>/atlas-continuity/grants/`` and so on)."""
    return f"{prefix.strip('/')}/{key}" if prefix.strip("/") else key


def check_name(kind: str, value: str) -> str:
    """Validate a repository or tag name: it becomes one path segment of every key."""
    if not _NAME.match(value or ""):
        raise BadInput(
            f"invalid {kind} name {value!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def check_digest(value: str) -> str:
    """Validate a digest given as ``sha256:<hex>`` or bare hex; return the hex."""
    hexpart = value.removeprefix("sha256:")
    if not _HEX64.match(hexpart):
        raise BadInput(f"invalid digest {value!r}: expected sha256:<64 lowercase hex digits>")
    return hexpart


def is_name(value: str) -> bool:
    """A valid repository, tag or grant-series name (check_name without raising)."""
    return bool(_NAME.match(value or ""))


def is_hex(value: str) -> bool:
    """64 lowercase hexadecimal digits: a SHA-256 as keys carry it."""
    return bool(_HEX64.match(value or ""))


def _repo(repo: str) -> str:
    return f"{REGISTRY}{check_name('repository', repo)}"


def repo_prefix(repo: str) -> str:
    """The key prefix of every object of ``repo``: packs, manifests, tag events."""
    return f"{_repo(repo)}/"


def packs_prefix(repo: str) -> str:
    return f"{_repo(repo)}/packs/sha256/"


def pack_key(repo: str, sha256: str) -> str:
    return packs_prefix(repo) + sha256


def manifests_prefix(repo: str) -> str:
    return f"{_repo(repo)}/manifests/sha256/"


def manifest_key(repo: str, digest: str) -> str:
    return f"{manifests_prefix(repo)}{digest}.json"


def digest_from_manifest_key(key: str) -> str | None:
    name = key.rsplit("/", 1)[-1].removesuffix(".json")
    return name if is_hex(name) else None


def tags_prefix(repo: str, tag: str | None = None) -> str:
    base = f"{_repo(repo)}/tags/"
    return base if tag is None else f"{base}{check_name('tag', tag)}/"


def tag_event_key(repo: str, tag: str, when_ns: int, sha256: str) -> str:
    return series_key(tags_prefix(repo, tag), when_ns, sha256)


def parse_tag_event_key(repo: str, key: str) -> tuple[str, int, str] | None:
    """Return (tag, time in ns, sha256) for a tag event key, or None for any other key."""
    tag, _, name = key.removeprefix(tags_prefix(repo)).partition("/")
    parsed = parse_series_name(name)
    if not key.startswith(tags_prefix(repo)) or parsed is None or not _NAME.match(tag):
        return None
    return tag, *parsed


def grants_prefix(name: str) -> str:
    return f"{GRANTS}{check_name('grant cache', name)}/"


CLOCK_SKEW_NS = 15 * 60 * 10**9
"""How far ahead of a reader's clock an object of a series may be dated and still count: a
tag event or grant snapshot dated later than that is ignored (a misset clock or tampering)."""


def series_start(prefix: str, latest_ns: int) -> str:
    """The key after which, in byte order, a listing of the series under ``prefix`` holds only
    objects made at ``latest_ns`` or before: pass it as ``start_after`` to skip later ones."""
    return f"{prefix}{_INVERT_BASE - latest_ns:019d}"


def series_floor(prefix: str) -> str:
    """The key just before every series name under ``prefix``, and after anything else that
    sorts ahead of them (a ``.DS_Store``, an S3 console's folder marker ``<prefix>``): listed
    after it, such a stray object cannot take the newest's place."""
    return series_start(prefix, _INVERT_BASE)


def series_key(prefix: str, when_ns: int, sha256: str) -> str:
    """The key of an object made at ``when_ns`` whose bytes hash to ``sha256``."""
    return f"{prefix}{_INVERT_BASE - when_ns:019d}-{sha256}.json"


def parse_series_name(name: str) -> tuple[int, str] | None:
    """(time in ns, sha256) from the last segment of a series key, or None."""
    match = _SERIES_NAME.match(name)
    if not match:
        return None
    return _INVERT_BASE - int(match.group(1)), match.group(2)
