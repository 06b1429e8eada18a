"""``atlas.sum``, computed and checked exactly as Atlas does (ariga/atlas ``sql/migrate``).

One running SHA-256 goes over the directory's migration files in order: for each file its
name, then (unless the file opts out with ``atlas:sum ignore``) its bytes; the base64 of the
running digest after each file is that file's hash. The first line is ``h1:`` + base64 of
SHA-256 over every (name, hash) pair. Which files count depends on the directory format.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput
from .paths import is_safe_relpath

SUM_FILE = "atlas.sum"


def is_safe_file_name(name: str) -> bool:
    """A migration file name: one safe segment directly inside the directory, not atlas.sum,
    and not starting with ``~`` (a shell would expand it to a home directory)."""
    return (
        is_safe_relpath(name) and "/" not in name and name != SUM_FILE and not name.startswith("~")
    )


def _atlas_files(names: list[str]) -> list[str]:
    return sorted(n for n in names if n.endswith(".sql"))


def _golang_migrate_files(names: list[str]) -> list[str]:
    return sorted(n for n in names if n.endswith(".up.sql"))


# Directory format -> which file names take part in the sum, in the order they are hashed
# (Atlas's --dir-format values). Python sorts str by code point, which for UTF-8 names is
# Go's byte order. golang-migrate sums count only the up files, as Atlas writes them.
DIR_FORMATS = {
    "atlas": _atlas_files,
    "golang-migrate": _golang_migrate_files,
    "goose": _atlas_files,
    "flyway": _atlas_files,
    "liquibase": _atlas_files,
    "dbmate": _atlas_files,
}

# Atlas matches directives against the start of the file: the first line only, any prefix.
_DIRECTIVE = re.compile(rb"([ -~]*)atlas:(\w+)(?: +([ -~]*))*", re.ASCII)


def ignores_sum(content: bytes) -> bool:
    """True if the file's first line carries Atlas's ``atlas:sum ignore`` directive."""
    m = _DIRECTIVE.match(content)
    return bool(m) and m.group(2) == b"sum" and m.group(3) == b"ignore"


@dataclass(frozen=True)
class SumFile:
    """A parsed or computed atlas.sum: per-file hashes, in order."""

    entries: tuple[tuple[str, str], ...]

    @property
    def sum(self) -> str:
        h = hashlib.sha256()
        for name, file_hash in self.entries:
            h.update(name.encode())
            h.update(file_hash.encode())
        return base64.b64encode(h.digest()).decode()

    def to_text(self) -> str:
        lines = [f"h1:{self.sum}\n"] + [f"{n} h1:{h}\n" for n, h in self.entries]
        return "".join(lines)

    @classmethod
    def compute(cls, files: list[tuple[str, bytes]]) -> SumFile:
        running = hashlib.sha256()
        entries = []
        for name, content in files:
            running.update(name.encode())
            if ignores_sum(content):
                continue
            running.update(content)
            entries.append((name, base64.b64encode(running.copy().digest()).decode()))
        return cls(tuple(entries))

    @classmethod
    def parse(cls, text: str) -> tuple[str, SumFile]:
        """Return (first-line sum, entries); raise ValueError when the text is not a sum file."""
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines or not lines[0].startswith("h1:"):
            raise ValueError("first line is not 'h1:<sum>'")
        entries = []
        for line in lines[1:]:
            name, sep, file_hash = line.partition("h1:")
            if not sep or not name.strip():
                raise ValueError(f"malformed line {line!r}")
            entries.append((name.strip(), file_hash))
        parsed = cls(tuple(entries))
        if parsed.sum != lines[0][3:]:
            raise ValueError("its first line does not match its own entries")
        return lines[0][3:], parsed


@dataclass(frozen=True)
class MigrationDir:
    """A checked migration directory: every regular file's bytes and its valid atlas.sum."""

    path: Path
    dir_format: str
    files: dict[str, bytes]
    sum_text: str


def check_dir_format(dir_format: str) -> str:
    if dir_format not in DIR_FORMATS:
        known = ", ".join(sorted(DIR_FORMATS))
        raise BadInput(f"unknown migration directory format {dir_format!r} (known: {known})")
    return dir_format


def compute_sum(files: dict[str, bytes], dir_format: str) -> SumFile:
    names = DIR_FORMATS[check_dir_format(dir_format)](list(files))
    return SumFile.compute([(n, files[n]) for n in names])


def validate(files: dict[str, bytes], sum_text: str, dir_format: str, where: str) -> None:
    """Raise BadInput unless ``sum_text`` is the valid atlas.sum of ``files`` (Atlas's rule:
    the first-line sum of the file must equal the sum recomputed from the files)."""
    try:
        declared, _ = SumFile.parse(sum_text)
    except ValueError as exc:
        raise BadInput(f"{where}: {SUM_FILE} is malformed: {exc}") from None
    computed = compute_sum(files, dir_format)
    if declared != computed.sum:
        raise BadInput(
            f"{where}: {SUM_FILE} is stale: it does not match the directory's files "
            f"({_describe_mismatch(sum_text, computed)}); run 'atlas migrate hash'"
        )


def _describe_mismatch(sum_text: str, computed: SumFile) -> str:
    _, declared = SumFile.parse(sum_text)
    want = dict(declared.entries)
    have = dict(computed.entries)
    added = [n for n in have if n not in want]
    removed = [n for n in want if n not in have]
    changed = [n for n, h in computed.entries if n in want and want[n] != h]
    parts = []
    if added:
        parts.append(f"not in the sum: {', '.join(added[:3])}")
    if removed:
        parts.append(f"missing from the directory: {', '.join(removed[:3])}")
    if changed:
        parts.append(f"first changed file: {changed[0]}")
    return "; ".join(parts) or "the first-line sum differs"


def read_dir(path: Path, dir_format: str) -> MigrationDir:
    """Read and validate a migration directory; raise BadInput on anything unpushable."""
    check_dir_format(dir_format)
    if not path.exists():
        raise BadInput(f"{path}: no such directory")
    if not path.is_dir():
        raise BadInput(f"{path}: not a directory")
    files: dict[str, bytes] = {}
    sum_text: str | None = None
    for entry in sorted(path.iterdir()):
        if entry.is_symlink():
            raise BadInput(f"{entry}: symbolic links are not pushed; replace it with the file")
        if entry.is_dir():
            raise BadInput(
                f"{entry}: migration directories are flat; remove the subdirectory "
                "or push the directory that holds the migration files"
            )
        if not entry.is_file():
            raise BadInput(f"{entry}: not a regular file")
        if entry.name == SUM_FILE:
            try:
                sum_text = entry.read_bytes().decode("utf-8", "strict")
            except UnicodeDecodeError:
                raise BadInput(f"{entry}: not UTF-8 text; not an atlas.sum") from None
        elif not is_safe_file_name(entry.name):
            raise BadInput(
                f"{entry.name!r}: file names with control characters cannot be "
                "stored safely; rename the file"
            )
        else:
            files[entry.name] = entry.read_bytes()
    if sum_text is None:
        raise BadInput(f"{path}: no {SUM_FILE}; run 'atlas migrate hash' to create it")
    validate(files, sum_text, dir_format, str(path))
    return MigrationDir(path=path, dir_format=dir_format, files=files, sum_text=sum_text)
