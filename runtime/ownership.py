"""Which temporary files and folders are ours to clean up: those a dead run of ours left.

The runtime builds directories and objects beside a user's (``.migrations.atlas-continuity-tmp-
...``, a store folder's ``.atlas-continuity-tmp-...``). A killed run leaves them behind. Cleanup
must remove those at once, and never a user's folder that happens to look alike: so each one
names its maker, a process identity (machine boot and PID namespace, pid, and the process's
start time, which tells a reused pid apart), and a folder carries it in a marker file beside it
as well. Only what provably belongs to a process that is gone from this machine is removed (a
run in another container on the same host is not ours to judge: its leftovers stay).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterator
from functools import cache
from pathlib import Path

TAG = "atlas-continuity"
MARKER_SUFFIX = ".owner"
_IDENTITY = re.compile(r"^([0-9a-z-]+)\.(\d+)\.(\d+)\Z")


@cache
def _boot() -> str:
    """Where pids and start times mean something: this machine's current boot, and the PID
    namespace we run in (containers on one host share the boot, not their pids: a pull in
    another container must not read as a dead process of ours)."""
    with contextlib.suppress(OSError):
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
        namespace = re.sub(r"\D", "", os.readlink("/proc/self/ns/pid"))
        return f"{boot}-{namespace}"
    return re.sub(r"[^0-9a-z-]", "-", socket.gethostname().lower())[:32] or "host"


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if there is no such
    process (or no /proc to ask)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count after its last ')'.
    return int(stat.rsplit(")", 1)[1].split()[19])


def identity() -> str:
    """This process: ``<boot>.<pid>.<start time>``."""
    pid = os.getpid()
    return f"{_boot()}.{pid}.{_start_time(pid) or 0}"


def is_gone(owner: str) -> bool:
    """True only when ``owner`` is provably a process that no longer runs on this machine."""
    match = _IDENTITY.match(owner)
    if match is None or match.group(1) != _boot():
        return False  # another machine's (a shared volume), or not ours to judge
    pid, start = int(match.group(2)), int(match.group(3))
    if Path("/proc").is_dir():
        return _start_time(pid) != start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


_STEM_MAX = 120
"""Bytes of a user's name kept in ours: the rest (tag, kind, identity, random, marker suffix)
must still fit the 255 bytes a file system takes for one name."""


def _prefix(stem: str) -> str:
    """What every temporary name made for ``stem`` starts with."""
    kept = stem.encode()[:_STEM_MAX].decode(errors="ignore")
    return f"{kept}.{TAG}-"


def temp_name(stem: str, kind: str) -> str:
    """A name for a temporary file or folder made by this process: ``<stem>.atlas-continuity-
    <kind>-<identity>-<random>`` (a long stem cut short)."""
    return f"{_prefix(stem)}{kind}-{identity()}-{secrets.token_hex(4)}"


def owner_of(name: str) -> str | None:
    """The identity in a name :func:`temp_name` made, or None for any other name."""
    match = re.search(rf"\.{TAG}-[a-z]+-([0-9a-z-]+\.\d+\.\d+)-[0-9a-f]{{8}}\Z", name)
    return match.group(1) if match else None


def make_dir(parent: Path, stem: str, kind: str, mode: int = 0o700) -> Path:
    """A new temporary folder in ``parent``, with its marker written first: a crash between
    the two leaves a marker, never an unmarked folder."""
    path = parent / temp_name(stem, kind)
    marker = path.with_name(path.name + MARKER_SUFFIX)
    marker.write_text(json.dumps({"owner": identity()}))
    path.mkdir(mode=mode)
    return path


def remove_dir(path: Path) -> None:
    """Remove a folder :func:`make_dir` made, then its marker."""
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        path.with_name(path.name + MARKER_SUFFIX).unlink()


def sweep_dirs(parent: Path, stem: str) -> None:
    """Remove the folders named for ``stem`` that a dead run of ours left in ``parent``: each
    needs its marker, naming the same process as its name, and that process gone."""
    prefix = _prefix(stem)
    with contextlib.suppress(OSError):
        for marker in parent.iterdir():
            name = marker.name
            if not (name.startswith(prefix) and name.endswith(MARKER_SUFFIX)):
                continue
            folder = marker.with_name(name.removesuffix(MARKER_SUFFIX))
            owner = owner_of(folder.name)
            try:
                recorded = json.loads(marker.read_text()).get("owner")
            except (OSError, ValueError, AttributeError):
                continue
            if owner is None or recorded != owner or not is_gone(owner):
                continue
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                continue
            remove_dir(folder)


def sweep_files(folder: Path, stem: str) -> None:
    """Remove the files named for ``stem`` that a dead run of ours left in ``folder``."""
    prefix = _prefix(stem)
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            owner = owner_of(entry.name) if entry.name.startswith(prefix) else None
            if owner is not None and is_gone(owner) and not entry.is_dir():
                with contextlib.suppress(OSError):
                    entry.unlink()


@contextlib.contextmanager
def scratch_dir(parent: Path, stem: str) -> Iterator[Path]:
    """A private folder of this run in ``parent``, named for ``stem`` and removed after use (or
    renamed away by then); what a killed run of ours left there for ``stem`` (a half-built
    directory, a restored grant) is removed first."""
    sweep_dirs(parent, stem)
    path = make_dir(parent, stem, "tmp")
    try:
        yield path
    finally:
        remove_dir(path)
