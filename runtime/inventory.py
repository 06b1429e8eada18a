"""What a store holds, object by object, and each object read back verified: the ground that
verify and sync stand on.

One paged LIST names every object of a repository (and of the grant caches); keys the layout
does not name are reported, never copied. Reading an object checks it as a reader of its kind
does: a pack against its hash and, when its manifest is known, file by file; a manifest, a tag
event or a grant snapshot against the hash in its key and its own rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import layout, pack
from .errors import ContinuityError, IntegrityError
from .grants.snapshot import MAX_SNAPSHOT_BYTES, Snapshot
from .manifest import (
    MAX_MANIFEST_BYTES,
    MAX_PACK_BYTES,
    MAX_TAG_EVENT_BYTES,
    Manifest,
    TagEvent,
    sha256_hex,
)
from .stores.base import Store

KINDS = ("pack", "manifest", "tag", "grant")
"""In the order a copy must respect: a manifest never before its pack, an event never before
its version."""


@dataclass(frozen=True)
class Entry:
    """One object of the layout, from its key alone."""

    kind: str
    key: str
    name: str
    """The pack's or manifest's hex, the tag's name, the grant series' name."""
    time_ns: int = 0
    """Tag events and grant snapshots: the time in the key."""
    sha256: str = ""
    """The hash in the key: of the object's bytes, for every kind."""

    @property
    def ahead_of_clock(self) -> bool:
        return self.time_ns > time.time_ns() + layout.CLOCK_SKEW_NS


def list_entries(store: Store, repo: str, grants: bool) -> tuple[dict[str, Entry], list[str]]:
    """The store's objects of ``repo`` (and its grant snapshots), by key; and the keys under
    those folders the layout does not name."""
    entries: dict[str, Entry] = {}
    unexpected: list[str] = []
    for key in store.list(layout.repo_prefix(repo)):
        entry = _registry_entry(repo, key)
        if entry is None:
            unexpected.append(key)
        else:
            entries[key] = entry
    if grants:
        for key in store.list(layout.GRANTS):
            name, _, rest = key.removeprefix(layout.GRANTS).partition("/")
            parsed = None if "/" in rest else layout.parse_series_name(rest)
            if parsed is None or not layout.is_name(name):
                unexpected.append(key)
            else:
                entries[key] = Entry("grant", key, name, parsed[0], parsed[1])
    return entries, unexpected


def _registry_entry(repo: str, key: str) -> Entry | None:
    if key.startswith(layout.packs_prefix(repo)):
        sha = key.removeprefix(layout.packs_prefix(repo))
        return Entry("pack", key, sha, sha256=sha) if layout.is_hex(sha) else None
    if key.startswith(layout.manifests_prefix(repo)):
        digest = layout.digest_from_manifest_key(key)
        if digest is None or key != layout.manifest_key(repo, digest):
            return None
        return Entry("manifest", key, digest, sha256=digest)
    parsed = layout.parse_tag_event_key(repo, key)
    if parsed is None:
        return None
    tag, when_ns, sha = parsed
    return Entry("tag", key, tag, when_ns, sha)


def held_by_any(stores: list[Store], key: str) -> bool:
    """Whether some store holds ``key`` now: asked again after the listing, before a gap is
    called a loss, so that an object a push wrote meanwhile is not. A store that cannot say
    may hold it."""
    for store in stores:
        try:
            if store.stat(key) is not None:
                return True
        except ContinuityError:
            return True
    return False


def read_verified(
    store: Store, repo: str, entry: Entry, manifest: Manifest | None = None
) -> tuple[bytes, object]:
    """The object's bytes and what they decode to, verified as a reader of its kind would;
    IntegrityError if they are not what the key says. A pack is checked file by file when its
    ``manifest`` is known."""
    where = f"{store.url}: {entry.key}"
    if entry.kind == "pack":
        data = store.get(entry.key, limit=manifest.pack.size if manifest else MAX_PACK_BYTES)
        if sha256_hex(data) != entry.sha256:
            raise IntegrityError(f"{where}: the pack is corrupt (hash mismatch)")
        if manifest is not None:
            for _ in pack.unpack(data, manifest.files, where):
                pass
        return data, None
    if entry.kind == "manifest":
        data = store.get(entry.key, limit=MAX_MANIFEST_BYTES)
        decoded: object = Manifest.decode(data, entry.sha256, store.url)
        if decoded.repo != repo:
            raise IntegrityError(f"{where}: the manifest belongs to {decoded.repo!r}")
        return data, decoded
    if entry.kind == "tag":
        data = store.get(entry.key, limit=MAX_TAG_EVENT_BYTES)
        decoded = TagEvent.decode(data, entry.sha256, where)
        if (decoded.repo, decoded.tag, decoded.time_ns) != (repo, entry.name, entry.time_ns):
            raise IntegrityError(f"{where}: the tag event does not match its key")
        return data, decoded
    data = store.get(entry.key, limit=MAX_SNAPSHOT_BYTES)
    decoded = Snapshot.decode(data, entry.sha256, where)
    if (decoded.name, decoded.created_ns) != (entry.name, entry.time_ns):
        raise IntegrityError(f"{where}: its name and its content disagree")
    return data, decoded
