"""Relative paths from untrusted places (a manifest, a snapshot, a cache folder): which are safe."""

from __future__ import annotations


def is_safe_relpath(path: str) -> bool:
    """A relative path that can only ever mean a file below the directory it is joined to:
    no absolute path, no ``..`` or ``.`` segment, no backslash, NUL or control character."""
    if not isinstance(path, str) or not path or "\\" in path or not path.isprintable():
        return False
    segments = path.split("/")
    return all(s not in ("", ".", "..") and len(s.encode()) <= 255 for s in segments)
