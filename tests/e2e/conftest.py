"""Fixtures for the end-to-end tests that read the exchange's e-mail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import database_url
from tests.support.exchange import running_exchange
from tests.support.mailbox import Mailed
from voucher_exchange.notifications.local import start_local_smtp


@pytest.fixture(scope="module")
def mailed(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mailed]:
    controller, inbox, port = start_local_smtp()
    var_dir: Path = tmp_path_factory.mktemp(f"recovery-{backend}")
    url = database_url(request, backend, var_dir, "vx_recovery")
    try:
        with running_exchange(var_dir, url, smtp_host="127.0.0.1", smtp_port=port) as exchange:
            yield Mailed(exchange, inbox)
    finally:
        controller.stop()


@pytest.fixture
def required(mailed: Mailed) -> Iterator[Mailed]:
    """Two-factor required for staff (the suite's default helpers sign staff in without it)."""
    ctx = mailed.exchange.ctx
    settings = ctx.settings
    ctx.settings = settings.with_overrides(staff_two_factor=True)
    yield mailed
    ctx.settings = settings
