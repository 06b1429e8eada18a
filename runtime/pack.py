"""A version's files in one object: the pack.

A pack is the concatenation of the version's file contents, in the manifest's order, compressed
with zlib. It holds bytes only: no names, sizes, types or links, so nothing in it can name a
path, a link or a device. Names and sizes come from the manifest, which is verified first; the
pack is then verified whole (its SHA-256, named in the manifest and in its key), cut at the
manifest's sizes, and each file checked against its own SHA-256.

Reading is bounded: the compressed object by the size the manifest states, the expanded bytes
by the sum of the files' sizes (a decompression bomb stops one byte past it), and that sum by
MAX_EXPANDED.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence

from .errors import IntegrityError
from .manifest import FileEntry, sha256_hex

COMPRESSION = "zlib"
LEVEL = 3
MAX_EXPANDED = 512 * 1024 * 1024
"""Most bytes a version's files may add up to: a migration directory is far smaller."""
_CHUNK = 1024 * 1024


def build(files: Sequence[tuple[str, bytes]]) -> bytes:
    """The pack of ``files`` (name, bytes) in the order given."""
    compressor = zlib.compressobj(LEVEL)
    parts = [compressor.compress(data) for _, data in files]
    parts.append(compressor.flush())
    return b"".join(parts)


def unpack(data: bytes, entries: Sequence[FileEntry], where: str) -> Iterator[tuple[str, bytes]]:
    """Each entry's name and bytes from a pack, verified; IntegrityError at the first fault.

    ``data`` must already match the manifest's pack hash; this checks that it expands to
    exactly the files the manifest lists, byte for byte.
    """
    expected = sum(e.size for e in entries)
    if expected > MAX_EXPANDED:
        raise IntegrityError(
            f"{where}: the version's files add up to {expected} bytes, more than the "
            f"{MAX_EXPANDED} a version may hold; refused"
        )
    stream = _Expanded(data, expected, where)
    for entry in entries:
        content = stream.take(entry.size)
        if len(content) != entry.size or sha256_hex(content) != entry.sha256:
            raise IntegrityError(f"{where}: {entry.name!r} in the pack does not match its hash")
        yield entry.name, content
    if stream.take(1):
        raise IntegrityError(f"{where}: the pack holds bytes no manifest entry accounts for")
    if not stream.finished():
        raise IntegrityError(f"{where}: the pack is cut short, or has bytes after its end")


class _Expanded:
    """The pack's bytes, decompressed on demand, never more than ``limit + 1`` of them."""

    def __init__(self, data: bytes, limit: int, where: str) -> None:
        self.d, self.data, self.where = zlib.decompressobj(), data, where
        self.pos, self.left = 0, limit + 1
        self.buffer, self.start = bytearray(), 0

    def take(self, size: int) -> bytes:
        while len(self.buffer) - self.start < size and self._more():
            pass
        out = bytes(self.buffer[self.start : self.start + size])
        self.start += len(out)
        if self.start > _CHUNK:  # drop what was taken, now and then, not on every take
            del self.buffer[: self.start]
            self.start = 0
        return out

    def _more(self) -> bool:
        """Decompress the next piece; False once the stream, the input or the limit ends."""
        if self.left <= 0 or self.d.eof:
            return False
        chunk = self.d.unconsumed_tail
        if not chunk:
            chunk = self.data[self.pos : self.pos + _CHUNK]
            self.pos += len(chunk)
        if not chunk:
            return False
        try:
            out = self.d.decompress(chunk, min(self.left, _CHUNK))
        except zlib.error as exc:
            raise IntegrityError(
                f"{self.where}: the pack is not valid {COMPRESSION} ({exc})"
            ) from None
        self.left -= len(out)
        self.buffer += out
        return True

    def finished(self) -> bool:
        """The compressed stream ended exactly at the end of the object."""
        return self.d.eof and not self.d.unused_data and self.pos >= len(self.data)
