"""The grant snapshot: one self-verifying JSON object holding a whole state folder."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field

from .. import layout
from ..errors import BadInput, IntegrityError
from ..manifest import canonical_json, check_format, sha256_hex, typed
from ..paths import is_safe_relpath

STATE_DIR = ".atlas"
STATE_LAYOUT, DATA_ROOT_LAYOUT = "state-dir", "data-root"
SNAPSHOT_LIMIT = 16 * 1024 * 1024
"""Most bytes of grant files in one snapshot (a grant folder holds a few KiB)."""
FILE_LIMIT = 10_000
MAX_SNAPSHOT_BYTES = SNAPSHOT_LIMIT * 4 // 3 + FILE_LIMIT * 1024
"""Most bytes of a snapshot object (base64 grows data by 4/3, plus a little per file): larger
objects are refused unread, so a cache cannot exhaust memory."""
MTIME_SKEW_NS = 24 * 3600 * 10**9
"""How far in the future a file's modification time may be before it is taken for tampering
(restore compares these times with the grant in place)."""


@dataclass(frozen=True)
class GrantFile:
    path: str
    data: bytes
    mtime_ns: int


@dataclass(frozen=True)
class Snapshot:
    name: str
    layout: str
    files: tuple[GrantFile, ...]
    created_ns: int
    source: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        return canonical_json(
            {
                "format": layout.FORMAT_VERSION,
                "kind": "grant-snapshot",
                "name": self.name,
                "layout": self.layout,
                "created_ns": self.created_ns,
                "source": self.source,
                "files": [
                    {
                        "path": f.path,
                        "sha256": sha256_hex(f.data),
                        "size": len(f.data),
                        "mtime_ns": f.mtime_ns,
                        "data": base64.b64encode(f.data).decode(),
                    }
                    for f in self.files
                ],
            }
        )

    @classmethod
    def decode(cls, data: bytes, sha256: str, where: str) -> Snapshot:
        """Parse snapshot bytes that must hash to ``sha256``; check every file and path."""
        if sha256_hex(data) != sha256:
            raise IntegrityError(f"{where}: snapshot is corrupt (hash mismatch)")
        try:
            obj = json.loads(data)
            if not isinstance(obj, dict) or obj.get("kind") != "grant-snapshot":
                raise IntegrityError(f"{where}: not a grant snapshot")
            check_format(obj.get("format"), "grant snapshot", where, "save the grant again")
            entries = obj["files"]
            if not isinstance(entries, list) or len(entries) > FILE_LIMIT:
                raise IntegrityError(f"{where}: snapshot file list is malformed or too long")
            files = []
            for f in entries:
                content = base64.b64decode(typed(f["data"], str), validate=True)
                if sha256_hex(content) != f["sha256"] or len(content) != f["size"]:
                    raise IntegrityError(f"{where}: a file does not match its hash")
                files.append(GrantFile(typed(f["path"], str), content, typed(f["mtime_ns"], int)))
            snapshot = cls(
                name=typed(obj["name"], str),
                layout=typed(obj["layout"], str),
                files=tuple(files),
                created_ns=typed(obj["created_ns"], int),
                source={str(k): str(v) for k, v in typed(obj.get("source", {}), dict).items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise IntegrityError(f"{where}: snapshot is malformed ({type(exc).__name__})") from None
        snapshot.check(where)
        return snapshot

    def check(self, where: str) -> None:
        """Refuse what no honest save produces: no files, too much, times in the future,
        paths that could leave the state folder or that cannot all exist (``a`` and ``a/b``)."""
        if not self.files:
            raise IntegrityError(f"{where}: snapshot holds no files")
        if len(self.files) > FILE_LIMIT:
            raise IntegrityError(f"{where}: snapshot holds more than {FILE_LIMIT} files")
        if sum(len(f.data) for f in self.files) > SNAPSHOT_LIMIT:
            raise IntegrityError(f"{where}: snapshot is larger than a grant folder can be")
        latest = time.time_ns() + MTIME_SKEW_NS
        if not 0 <= self.created_ns <= latest:
            raise IntegrityError(f"{where}: snapshot has times outside any plausible range")
        for f in self.files:
            if not 0 <= f.mtime_ns <= latest:
                raise IntegrityError(
                    f"{where}: {f.path!r} has a modification time outside any plausible range "
                    "(before 1970, or more than a day ahead of this machine's clock)"
                )
        paths = {f.path for f in self.files}
        if len(paths) != len(self.files):
            raise IntegrityError(f"{where}: snapshot holds a path twice; refused")
        for path in sorted(paths):
            parts = path.split("/")
            ok = is_safe_relpath(path)
            if ok and self.layout == DATA_ROOT_LAYOUT:
                ok = len(parts) >= 4 and parts[2] == STATE_DIR
            elif self.layout != STATE_LAYOUT:
                ok = False
            if not ok:
                raise IntegrityError(f"{where}: snapshot holds unsafe path {path!r}; refused")
            clash = next(
                ("/".join(parts[:i]) for i in range(1, len(parts)) if "/".join(parts[:i]) in paths),
                None,
            )
            if clash is not None:
                raise IntegrityError(
                    f"{where}: snapshot holds {clash!r} both as a file and as the folder of "
                    f"{path!r}; refused"
                )


def make_snapshot(
    name: str, files: list[GrantFile], layout_name: str, source: dict[str, str]
) -> Snapshot:
    """A snapshot of ``files``; BadInput when a restore would refuse it, since saved it would
    push the good snapshots out of a cache folder and leave nothing to restore."""
    snapshot = Snapshot(name, layout_name, tuple(files), time.time_ns(), source)
    try:
        snapshot.check("the grant to save")
    except IntegrityError as exc:
        raise BadInput(f"refusing to save what no restore would accept: {exc}") from None
    return snapshot
