"""License grant caching: save Atlas's state folder to caches, restore the newest intact copy.

A save is one self-verifying *snapshot* (``snapshot.py``): a JSON object holding every file of
the state folder with its SHA-256, stored create-only under ``atlas-continuity/grants/<name>/``
and named by its time (newest first) and its own hash. Caches (``caches.py``) are CI cache
folders in the workspace and store URLs; both are stores, so a save never overwrites anything
and a crash leaves the previous snapshot. Restore takes the newest intact snapshot of all
caches, judged by its verified content, verifies everything before it writes, refuses any path
that could leave the target, and swaps the folder (``folders.py``) in atomically with
owner-only modes.
"""

from .caches import Cache, CacheResult, RestoreReport, open_caches, restore, save, status
from .folders import default_state_dir, read_data_root, read_local, read_state_dir
from .snapshot import DATA_ROOT_LAYOUT, STATE_LAYOUT, GrantFile, Snapshot, make_snapshot

__all__ = [
    "DATA_ROOT_LAYOUT",
    "STATE_LAYOUT",
    "Cache",
    "CacheResult",
    "GrantFile",
    "RestoreReport",
    "Snapshot",
    "default_state_dir",
    "make_snapshot",
    "open_caches",
    "read_data_root",
    "read_local",
    "read_state_dir",
    "restore",
    "save",
    "status",
]
