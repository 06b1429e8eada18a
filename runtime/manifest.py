"""Manifests (one directory version) and tag events: their JSON, digests and validation.

A manifest is addressed by the SHA-256 of its canonical JSON bytes. Decoding checks that
hash first, then the format version, then every field, so nothing a store serves is trusted.
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

_HEX64 = re.compile(r"^[0-9a-f]{64}$")

# Most any reader accepts (docs/FORMAT.md, "Limits"); a larger object is refused unread, as
# corrupt, and the next store serves. Far above what a real directory produces.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_FILES = 100_000
MAX_TAG_EVENT_BYTES = 64 * 1024


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class FileEntry:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    repo: str
    dir_format: str
    files: tuple[FileEntry, ...]
    atlas_sum: str
    created: str
    source: dict[str, str] = field(default_factory=dict)

    @property
    def content(self) -> tuple[object, ...]:
        """What the version holds, without when and where it was pushed."""
        return (self.repo, self.dir_format, self.files, self.atlas_sum)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "kind": "manifest",
            "repo": self.repo,
            "dir_format": self.dir_format,
            "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in self.files],
            "atlas_sum": self.atlas_sum,
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
        if sha256_hex(data) != digest:
            raise IntegrityError(f"{where}: manifest {digest[:12]} does not match its digest")
        try:
            obj = json.loads(data)
            _check_format(obj, "manifest", where)
            if not isinstance(obj["files"], list) or len(obj["files"]) > MAX_FILES:
                raise IntegrityError(
                    f"{where}: manifest {digest[:12]} lists more than {MAX_FILES} files, or "
                    "none as a list; refused"
                )
            files = tuple(
                FileEntry(name=str(f["name"]), sha256=str(f["sha256"]), size=int(f["size"]))
                for f in obj["files"]
            )
            manifest = cls(
                repo=check_name("repository", obj["repo"]),
                dir_format=str(obj["dir_format"]),
                files=files,
                atlas_sum=str(obj["atlas_sum"]),
                created=str(obj["created"]),
                source={str(k): str(v) for k, v in dict(obj.get("source", {})).items()},
            )
        except IntegrityError:
            raise
        except (ValueError, KeyError, TypeError, BadInput, RecursionError) as exc:
            raise IntegrityError(
                f"{where}: manifest {digest[:12]} is malformed ({type(exc).__name__}: {exc})"
            ) from None
        if manifest.dir_format not in DIR_FORMATS:
            raise IntegrityError(
                f"{where}: manifest {digest[:12]} names an unknown directory format "
                f"{manifest.dir_format!r}"
            )
        manifest.check_files(where)
        return manifest

    def check_files(self, where: str) -> None:
        """Refuse file lists that could write outside the target or collide."""
        seen: set[str] = set()
        for f in self.files:
            if not is_safe_file_name(f.name):
                raise IntegrityError(
                    f"{where}: manifest lists an unsafe file name {f.name!r}; refusing to write it"
                )
            if f.name in seen:
                raise IntegrityError(f"{where}: manifest lists {f.name!r} twice")
            if not _HEX64.match(f.sha256) or f.size < 0:
                raise IntegrityError(f"{where}: manifest entry for {f.name!r} is malformed")
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
            event = cls(
                repo=check_name("repository", obj["repo"]),
                tag=check_name("tag", obj["tag"]),
                digest=str(obj["digest"]),
                time_ns=int(obj["time_ns"]),
                source={str(k): str(v) for k, v in dict(obj.get("source", {})).items()},
                previous=obj.get("previous"),
            )
        except IntegrityError:
            raise
        except (ValueError, KeyError, TypeError, BadInput, RecursionError) as exc:
            raise IntegrityError(
                f"{where}: tag event is malformed ({type(exc).__name__}: {exc})"
            ) from None
        if not _HEX64.match(event.digest):
            raise IntegrityError(f"{where}: tag event names a malformed digest")
        return event


def _check_format(obj: Any, kind: str, where: str) -> None:
    if not isinstance(obj, dict) or obj.get("kind") != kind:
        raise IntegrityError(f"{where}: not a {kind} object")
    version = obj.get("format")
    if version != FORMAT_VERSION:
        raise IntegrityError(
            f"{where}: {kind} format {version!r} is not supported by this version "
            f"(reads format {FORMAT_VERSION}); upgrade atlas-continuity"
        )
