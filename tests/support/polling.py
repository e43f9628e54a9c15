"""Waiting for background work: poll a condition until a deadline, never a fixed sleep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
_pause = threading.Event()  # never set: `wait` is a bounded pause between polls


def poll_until(probe: Callable[[], T | None], timeout: float, interval: float = 0.02, what: str = "") -> T:
    """Call `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        _pause.wait(interval)
