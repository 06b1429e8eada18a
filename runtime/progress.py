"""Progress of long work, on a terminal only: CI logs, pipes and --json stay clean."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress(
    what: str, total: int | None, enabled: bool, unit: str = "object"
) -> Iterator[Callable[[], None]]:
    """A ``tick()`` that advances a bar on stderr by one, when ``enabled`` and stderr is a
    terminal; otherwise one that does nothing. tqdm is imported only then. The bar appears
    after a second, so quick work draws nothing."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=what, unit=unit, leave=False, file=sys.stderr, delay=1.0) as bar:
        yield lambda: bar.update(1)
