"""Text made from what a store serves, safe to show: on a terminal, and in a Markdown table."""

from __future__ import annotations

from collections.abc import Iterable


def printable(value: object) -> str:
    """``value`` as text safe to print on a terminal: what a store serves could hold escape
    sequences (that retitle or clear a terminal) or newlines (that forge a line of output);
    every character that is not printable is shown as its escape instead."""
    return "".join(
        c if c.isprintable() else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        for c in str(value)
    )


def markdown_table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """A Markdown table (a CI job summary), each cell printable and its pipes escaped."""

    def cell(value: object) -> str:
        return printable(value).replace("|", "\\|")

    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
