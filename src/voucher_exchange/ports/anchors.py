"""The audit anchor store: an append-only place outside the database for signed chain heads.

The store keeps opaque documents (audit/anchors.py makes and checks them) under a sequence
number and never rewrites one. The directory of files (audit/anchor_files.py) is the one
implementation today; an object store with retention locks or a transparency log would be another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class AnchorTaken(Exception):
    """An anchor with this sequence number is stored already (another process took it first)."""


@dataclass(frozen=True)
class StoredAnchor:
    """One stored document: its name (for people and for `read`) and the number it was stored under."""

    name: str
    seq: int


class AnchorStore(Protocol):
    """Append-only storage of signed anchors, each under its own sequence number."""

    @property
    def where(self) -> str:
        """Where the anchors are kept, for messages (a path or a URL)."""
        ...

    def append(self, seq: int, document: bytes) -> str:
        """Store a new anchor durably and return its name; AnchorTaken when `seq` is stored already."""
        ...

    def list(self) -> Sequence[StoredAnchor]:
        """Every stored anchor, by sequence number (anything the store cannot number comes as seq 0)."""
        ...

    def read(self, name: str) -> bytes:
        """The document stored under `name` (one that `list` returned)."""
        ...
