"""Reading one table's row out of a wider one (a statement that joins several packages' rows)."""

from __future__ import annotations

from typing import Any


class Prefixed:
    """A row's columns named `prefix` + name, read under their own names (`Prefixed(row, "d_").id`)."""

    def __init__(self, row: Any, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, self._prefix + name)
