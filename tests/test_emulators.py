"""The emulators' own start-up: a server that does not come up says why."""

from __future__ import annotations

import sys

import pytest

from devtools.emulators import Emulator


class Mute(Emulator):
    """Prints why it cannot serve, then never listens."""

    name = "mute"

    def command(self) -> list[str]:
        code = "import time; print('bind: reason 42', flush=True); time.sleep(60)"
        return [sys.executable, "-c", code]


def test_a_server_that_never_listens_fails_with_the_tail_of_its_log():
    mute = Mute()
    with pytest.raises(RuntimeError, match=r"did not listen on \d+ in 1.0s:\nbind: reason 42"):
        mute.start(timeout=1.0)
    assert mute.proc is not None and mute.proc.poll() is not None  # stopped, not left behind
