"""Named crash points for the crash-safety tests (`VX_CRASH_AT=name` SIGKILLs this process).

A crash point costs one dictionary lookup when unset. It exists so that tests can
kill a worker at exactly the moments that matter for exactly-once money movement.
"""

from __future__ import annotations

import os
import signal

_TARGET = os.environ.get("VX_CRASH_AT")


def crash_point(name: str) -> None:
    """Die here, as if the machine lost power, when the environment names this point."""
    if name == _TARGET:
        os.kill(os.getpid(), signal.SIGKILL)
