"""Job statuses and the retry schedule, as plain values."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    """Where a job stands."""

    QUEUED = "queued"
    """Waiting for `run_at`."""
    RUNNING = "running"
    """Claimed by a worker until `locked_until`; claimable again after that."""
    DONE = "done"
    """Finished."""
    DEAD = "dead"
    """Gave up after the maximum attempts; an operator must look."""


@dataclass(frozen=True)
class Job:
    """A claimed job."""

    id: int
    kind: str
    ref: str
    attempts: int
    request_id: str | None = None
    payload: dict[str, Any] | None = None
    """The facts its enqueuer handed over (the newest enqueue's), or None: the handler reads them."""


BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 60.0


def backoff_seconds(attempt: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter: up to base × 2^(attempt−1), capped."""
    ceiling: float = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * float(2 ** max(attempt - 1, 0)))
    return ceiling / 2 + rng.random() * ceiling / 2
