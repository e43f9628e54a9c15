"""`promise show` and `promise set`, in-process against a migrated SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from voucher_exchange.cli.promise import promise_app
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.migrate import upgrade
from voucher_exchange.db.schema import audit_log, payout_promise_terms

runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/p.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(promise_app, list(args), env={"COLUMNS": "200", "VX_BANK_WINDOW": "23:30-00:30"})
    return result.exit_code, result.output


def _stored(url: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            terms = [tuple(r) for r in conn.execute(select(payout_promise_terms.c[:5]))]
            audited = [r.action for r in conn.execute(select(audit_log.c.action))]
    finally:
        engine.dispose()
    return [*terms, *audited]


def test_the_default_promise_until_the_operator_sets_one(url: str) -> None:
    code, output = invoke("show", "--database-url", url)
    assert code == 0, output
    assert output.splitlines() == [
        "paid within: 10 minutes of the voucher being secured",
        "compensation: 100% of the fee, added to a late payout",
        "bank window: 23:30–00:30 (Asia/Seoul): payouts queue, not covered",
    ]
    assert _stored(url) == []


def test_setting_the_promise_is_stored_and_audited(url: str) -> None:
    code, output = invoke(
        "set", "--minutes", "15", "--compensation-percent", "50", "--bank-window", "23:40-00:20",
        "--actor", "ops@example.com", "--database-url", url,
    )  # fmt: skip
    assert code == 0, output
    assert _stored(url) == [("bank", 15, 5000, "23:40", "00:20"), "promise.terms"]
    code, output = invoke("show", "--database-url", url)
    assert "compensation: 50% of the fee, added to a late payout" in output
    assert "bank window: 23:40–00:20 (Asia/Seoul)" in output
    # What is not given stays as it is.
    code, output = invoke("set", "--minutes", "12", "--database-url", url)
    assert code == 0, output
    assert _stored(url)[:1] == [("bank", 12, 5000, "23:40", "00:20")]


@pytest.mark.parametrize(
    "args",
    [
        ("--minutes", "0"),
        ("--compensation-percent", "101"),
        ("--bank-window", "23:30"),
        ("--bank-window", "late-night"),
    ],
    ids=["zero-minutes", "over-100", "no-end", "not-times"],
)
def test_a_bad_promise_is_refused_and_nothing_is_stored(url: str, args: tuple[str, ...]) -> None:
    code, output = invoke("set", *args, "--database-url", url)
    assert code != 0
    assert "Traceback" not in output
    assert _stored(url) == []
