"""Shared fixtures: one running exchange on a real SQLite file per test session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.exchange import Exchange, Seller, make_seller, running_exchange


@pytest.fixture(scope="session")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    """The exchange (API + in-process workers) and sandboxes, over real HTTP, on SQLite."""
    var_dir: Path = tmp_path_factory.mktemp("var")
    with running_exchange(var_dir, f"sqlite:///{var_dir}/voucher-exchange.db") as running:
        yield running


@pytest.fixture
def seller(exchange: Exchange) -> Seller:
    """A fresh verified seller with a verified bank account."""
    return make_seller(exchange)


@pytest.fixture
def shift_clock(exchange: Exchange) -> Iterator[Callable[[float], None]]:
    """Move the exchange's clock forward by some seconds for one test."""

    def shift(seconds: float) -> None:
        exchange.clock.offset += timedelta(seconds=seconds)

    yield shift
    exchange.clock.offset = timedelta(0)
