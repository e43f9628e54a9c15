"""Named crash points for the crash-safety tests (`VX_CRASH_AT=name` SIGKILLs this process).

A crash point costs one dictionary lookup when unset. It exists so that tests can
kill a worker at exactly the moments that matter for exactly-once money movement.
In-process tests (the stateful model) can instead make a point raise `SimulatedCrash`:
the open transaction rolls back, as it would if the process died there.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

_TARGET = os.environ.get("VX_CRASH_AT")
_RAISE_AT: set[str] = set()


class SimulatedCrash(BaseException):
    """The process "died" at a crash point (a BaseException: no handler may swallow it)."""


def crash_point(name: str) -> None:
    """Die here, as if the machine lost power, when the environment (or a test) names this point."""
    if name == _TARGET:
        os.kill(os.getpid(), signal.SIGKILL)
    if name in _RAISE_AT:
        _RAISE_AT.discard(name)
        raise SimulatedCrash(name)


@contextmanager
def crash_once_at(name: str) -> Iterator[None]:
    """Within the block, the first pass through `name` raises `SimulatedCrash` (tests only)."""
    _RAISE_AT.add(name)
    try:
        yield
    finally:
        _RAISE_AT.discard(name)
