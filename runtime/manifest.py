"""Manifests (one directory version) and tag events: their JSON, digests and validation.

A manifest is addressed by the SHA-256 of its canonical JSON bytes. Decoding checks that
hash first, then the format version, then every field and its type, so nothing a store serves
is trusted.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .atlas_sum import DIR_FORMATS, is_safe_file_name
from .errors import BadInput, IntegrityError
from .layout import FORMAT_VERSION, check_name

_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")

# Most any reader accepts (docs/FORMAT.md, "Limits"); a larger object is refused unread, as
# corrupt, and the next store serves. Far above what a real directory produces.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_FILES = 100_000
MAX_TAG_EVENT_BYTES = 64 * 1024
MAX_PACK_BYTES = 520 * 1024 * 1024
"""A pack of the largest version (pack.MAX_EXPANDED), with room for what zlib adds."""
PACK_COMPRESSIONS = ("zlib",)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def typed(value: Any, kind: type) -> Any:
    """``value`` if it is a ``kind`` (a bool is no int here); TypeError otherwise."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}, found {type(value).__name__}")
    return value


def _source(value: Any) -> dict[str, str]:
    return {typed(k, str): typed(v, str) for k, v in typed(value, dict).items()}


@dataclass(frozen=True)
class FileEntry:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class PackRef:
    """The one object that holds a version's file contents (runtime/pack.py)."""

    sha256: str
    """SHA-256 of the pack object's bytes: its key, and what a reader checks first."""
    size: int
    """The pack object's size in bytes: a reader reads no more."""
    compression: str = "zlib"


@dataclass(frozen=True)
class Manifest:
    repo: str
    dir_format: str
    files: tuple[FileEntry, ...]
    atlas_sum: str
    pack: PackRef
    created: str
    source: dict[str, str] = field(default_factory=dict)

    @property
    def content(self) -> tuple[object, ...]:
        """What the version holds, without when, where or how compressed it was pushed."""
        return (self.repo, self.dir_format, self.files, self.atlas_sum)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "kind": "manifest",
            "repo": self.repo,
            "dir_format": self.dir_format,
            "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in self.files],
            "atlas_sum": self.atlas_sum,
            "pack": {
                "sha256": self.pack.sha256,
                "size": self.pack.size,
                "compression": self.pack.compression,
            },
            "created": self.created,
            "source": dict(self.source),
        }

    def encode(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def digest(self) -> str:
        return sha256_hex(self.encode())

    @classmethod
    def decode(cls, data: bytes, digest: str, where: str) -> Manifest:
        """Parse manifest bytes that must hash to ``digest``; raise IntegrityError otherwise."""
        where = f"{where}: manifest {digest[:12]}"
        if sha256_hex(data) != digest:
            raise IntegrityError(f"{where} does not match its digest")
        try:
            obj = json.loads(data)
            _check_format(obj, "manifest", where)
            entries = typed(obj["files"], list)
            if len(entries) > MAX_FILES:
                raise IntegrityError(f"{where} lists more than {MAX_FILES} files; refused")
            pack = typed(obj["pack"], dict)
            manifest = cls(
                repo=check_name("repository", obj["repo"]),
                dir_format=typed(obj["dir_format"], str),
                files=tuple(
                    FileEntry(typed(f["name"], str), typed(f["sha256"], str), typed(f["size"], int))
                    for f in entries
                ),
                atlas_sum=typed(obj["atlas_sum"], str),
                pack=PackRef(
                    typed(pack["sha256"], str),
                    typed(pack["size"], int),
                    typed(pack["compression"], str),
                ),
                created=typed(obj["created"], str),
                source=_source(obj.get("source", {})),
            )
        except IntegrityError:
            raise
        except (ValueError, KeyError, TypeError, BadInput, RecursionError) as exc:
            raise IntegrityError(f"{where} is malformed ({type(exc).__name__}: {exc})") from None
        manifest.check(where)
        return manifest

    def check(self, where: str) -> None:
        """Refuse what no honest push writes: an unknown directory format or compression, a
        pack past the limit, and file lists that could write outside the target or collide."""
        if self.dir_format not in DIR_FORMATS:
            raise IntegrityError(f"{where} names an unknown directory format {self.dir_format!r}")
        pack = self.pack
        if not (_HEX64.match(pack.sha256) and 0 <= pack.size <= MAX_PACK_BYTES):
            raise IntegrityError(f"{where} names a malformed or oversized pack")
        if pack.compression not in PACK_COMPRESSIONS:
            raise IntegrityError(f"{where} names an unknown compression {pack.compression!r}")
        seen: set[str] = set()
        for f in self.files:
            if not is_safe_file_name(f.name):
                raise IntegrityError(
                    f"{where} lists an unsafe file name {f.name!r}; refusing to write it"
                )
            if f.name in seen:
                raise IntegrityError(f"{where} lists {f.name!r} twice")
            if not _HEX64.match(f.sha256) or f.size < 0:
                raise IntegrityError(f"{where}: the entry for {f.name!r} is malformed")
            seen.add(f.name)


@dataclass(frozen=True)
class TagEvent:
    """One move of a tag: the audit record. The newest event of a tag is its value."""

    repo: str
    tag: str
    digest: str
    time_ns: int
    source: dict[str, str] = field(default_factory=dict)
    previous: str | None = None

    def encode(self) -> bytes:
        return canonical_json(
            {
                "format": FORMAT_VERSION,
                "kind": "tag-event",
                "repo": self.repo,
                "tag": self.tag,
                "digest": self.digest,
                "time_ns": self.time_ns,
                "source": dict(self.source),
                "previous": self.previous,
            }
        )

    @classmethod
    def decode(cls, data: bytes, sha256: str, where: str) -> TagEvent:
        """Parse event bytes that must hash to ``sha256`` (named in the event's key)."""
        if sha256_hex(data) != sha256:
            raise IntegrityError(f"{where}: tag event does not match its hash")
        try:
            obj = json.loads(data)
            _check_format(obj, "tag-event", where)
            previous = obj.get("previous")
            event = cls(
                repo=check_name("repository", obj["repo"]),
                tag=check_name("tag", obj["tag"]),
                digest=typed(obj["digest"], str),
                time_ns=typed(obj["time_ns"], int),
                source=_source(obj.get("source", {})),
                previous=None if previous is None else typed(previous, str),
            )
        except IntegrityError:
            raise
        except (ValueError, KeyError, TypeError, BadInput, RecursionError) as exc:
            raise IntegrityError(
                f"{where}: tag event is malformed ({type(exc).__name__}: {exc})"
            ) from None
        if not _HEX64.match(event.digest) or not (
            event.previous is None or _HEX64.match(event.previous)
        ):
            raise IntegrityError(f"{where}: tag event names a malformed digest")
        return event


def _check_format(obj: Any, kind: str, where: str) -> None:
    if not isinstance(obj, dict) or obj.get("kind") != kind:
        raise IntegrityError(f"{where}: not a {kind} object")
    check_format(obj.get("format"), kind, where, "push the directory again")


def check_format(version: Any, kind: str, where: str, redo: str) -> None:
    """Refuse an object of another format version than this reader's, saying what to do:
    ``redo`` what wrote an older one, or upgrade to read a newer one."""
    if version == FORMAT_VERSION:
        return
    if isinstance(version, int) and not isinstance(version, bool) and version < FORMAT_VERSION:
        advice = f"it was written by an older atlas-continuity: {redo}"
    else:
        advice = "upgrade atlas-continuity to read it"
    raise IntegrityError(
        f"{where}: {kind} format {version!r}, and this version reads format {FORMAT_VERSION}; "
        f"{advice}"
    )
