"""How a worker process ends."""
from __future__ import annotations

import os
import sys


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
