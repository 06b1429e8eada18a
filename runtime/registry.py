"""One repository on one store: the smart layer over a dumb Store.

Everything read is verified against its address before it is returned; a mismatch raises
IntegrityError, which callers treat like a missing object and serve from another store.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from . import layout, series
from .errors import IntegrityError
from .manifest import (
    MAX_MANIFEST_BYTES,
    MAX_TAG_EVENT_BYTES,
    Manifest,
    PackRef,
    TagEvent,
    sha256_hex,
)
from .stores.base import ObjectExists, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TagState:
    """A tag's value on one store at one event: the newest event is its current value."""

    tag: str
    event: TagEvent
    key: str

    @property
    def ahead_of_clock(self) -> bool:
        """Dated further ahead of this machine's clock than the allowed skew: not a value."""
        return self.event.time_ns > time.time_ns() + layout.CLOCK_SKEW_NS


class Registry:
    def __init__(self, store: Store, repo: str) -> None:
        self.store = store
        self.repo = layout.check_name("repository", repo)

    @property
    def url(self) -> str:
        return self.store.url

    # -- packs -------------------------------------------------------------------------------

    def put_pack(self, sha256: str, data: bytes) -> bool:
        """Write a pack; return False if it was already there (content-addressed: same bytes)."""
        return _create(self.store, layout.pack_key(self.repo, sha256), data)

    def pack_size(self, sha256: str) -> int | None:
        """The size of the pack this store holds under ``sha256``, without reading it."""
        return self.store.stat(layout.pack_key(self.repo, sha256))

    def get_pack(self, pack: PackRef) -> bytes:
        """The pack's bytes, read no further than its stated size, verified against its hash."""
        data = self.store.get(layout.pack_key(self.repo, pack.sha256), limit=pack.size)
        if len(data) != pack.size or sha256_hex(data) != pack.sha256:
            raise IntegrityError(f"{self.url}: pack {pack.sha256[:12]} is corrupt (hash mismatch)")
        return data

    # -- manifests ---------------------------------------------------------------------------

    def put_manifest(self, manifest: Manifest) -> bool:
        return _create(
            self.store, layout.manifest_key(self.repo, manifest.digest), manifest.encode()
        )

    def manifest_size(self, digest: str) -> int | None:
        return self.store.stat(layout.manifest_key(self.repo, digest))

    def get_manifest(self, digest: str) -> Manifest:
        data = self.store.get(layout.manifest_key(self.repo, digest), limit=MAX_MANIFEST_BYTES)
        manifest = Manifest.decode(data, digest, self.url)
        if manifest.repo != self.repo:
            raise IntegrityError(f"{self.url}: manifest {digest[:12]} belongs to {manifest.repo!r}")
        return manifest

    def manifest_digests(self) -> list[str]:
        keys = self.store.list(layout.manifests_prefix(self.repo))
        return [d for d in map(layout.digest_from_manifest_key, keys) if d]

    # -- tags --------------------------------------------------------------------------------

    def put_tag_event(self, event: TagEvent) -> str:
        data = event.encode()
        key = layout.tag_event_key(self.repo, event.tag, event.time_ns, sha256_hex(data))
        _create(self.store, key, data)
        return key

    def resolve_tag(self, tag: str) -> TagState | None:
        """The tag's newest event, or None if the tag was never set: one LIST and one GET.
        Events dated ahead of this machine's clock are ignored, with a warning."""
        keys, ahead = series.newest_keys(self.store, layout.tags_prefix(self.repo, tag), 1)
        if ahead:
            self._warn_ahead(tag)
        return self._read_event(keys[0]) if keys else None

    def tag_history(self, tag: str | None = None) -> list[TagState]:
        """Every event of one tag, or of all tags, newest first within each tag."""
        keys = self.store.list(layout.tags_prefix(self.repo, tag))
        return [self._read_event(k) for k in keys if layout.parse_tag_event_key(self.repo, k)]

    def tag_heads(self) -> list[TagState]:
        """Every tag's current value: one paged LIST, then one GET per tag (not per event)."""
        latest = time.time_ns() + layout.CLOCK_SKEW_NS
        newest: dict[str, str] = {}
        for key in self.store.list(layout.tags_prefix(self.repo)):
            parsed = layout.parse_tag_event_key(self.repo, key)
            if parsed is None:
                continue
            if parsed[1] > latest:
                self._warn_ahead(parsed[0])
            else:
                newest.setdefault(parsed[0], key)  # keys sort newest-first within a tag
        return [self._read_event(key) for key in newest.values()]

    def _warn_ahead(self, tag: str) -> None:
        log.warning(
            "%s: tag %r has an event dated more than %d minutes ahead of this machine's clock "
            "(a misset clock, or tampering); it is ignored",
            self.url,
            tag,
            layout.CLOCK_SKEW_NS // (60 * 10**9),
        )

    def _read_event(self, key: str) -> TagState:
        parsed = layout.parse_tag_event_key(self.repo, key)
        if parsed is None:
            raise IntegrityError(f"{self.url}: unexpected object {key!r} among tag events")
        tag, when_ns, sha = parsed
        where = f"{self.url}: {key}"  # which of many events, so that it can be found
        event = TagEvent.decode(self.store.get(key, limit=MAX_TAG_EVENT_BYTES), sha, where)
        if (event.repo, event.tag, event.time_ns) != (self.repo, tag, when_ns):
            raise IntegrityError(f"{where}: tag event does not match its key")
        return TagState(tag=tag, event=event, key=key)


def _create(store: Store, key: str, data: bytes) -> bool:
    try:
        store.put(key, data)
        return True
    except ObjectExists:
        return False
