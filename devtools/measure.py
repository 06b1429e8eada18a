"""Run the CLI as its own process and measure it: wall time and peak resident memory.

The peak is the process's own high-water mark (``VmHWM`` in /proc/self/status, read as it
exits). ``ru_maxrss`` from wait4 would not do: it counts the memory of the forking parent, a
test runner or a benchmark, for the instant before the child's exec.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

_RUNNER = """
import atexit, sys

def report():
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    sys.stderr.write(f"\\npeak-rss-kib {kib}\\n")

atexit.register(report)
from atlas_continuity.runtime.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Measured:
    code: int
    out: str
    err: str
    seconds: float
    peak_rss_mib: float


def run_cli(*args: object, env: dict[str, str] | None = None, timeout: float = 600) -> Measured:
    """``atlas-continuity ARGS`` in a child process, measured."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    seconds = time.monotonic() - started
    err, _, peak = done.stderr.rpartition("\npeak-rss-kib ")
    return Measured(done.returncode, done.stdout, err, seconds, int(peak) / 1024)
