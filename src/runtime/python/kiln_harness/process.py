"""How a worker process hears stop signals, and how it ends."""
from __future__ import annotations

import os
import signal
import sys
from typing import Iterable, Tuple


def exit_now(code: int) -> None:
    """Exit without waiting for threads the app started (or handlers still running after the
    grace period): the runtime expects the process to end once it has said what it says."""
    try:
        if "logging" in sys.modules:
            sys.modules["logging"].shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def signals_to_pipe(signums: Iterable[int]) -> Tuple[int, int]:
    """Catches `signums` instead of letting them act, and has Python write each one's number to
    a pipe (its wakeup fd) that the waiting thread selects on: the pipe's (read, write) ends,
    both non-blocking."""
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    for signum in signums:
        signal.signal(signum, _noted)
    return read_end, write_end


def _noted(signum: int, frame: object) -> None:
    """Installed so the signal no longer has its default effect; the wakeup fd reports it."""
