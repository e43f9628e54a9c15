"""A day of real trades reconciled against the sandbox's own statements, on both databases.

The trades run through the service layer (`core`): the issuer and the rail are the
sandboxes over real HTTP, so their statements record what really happened.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import invoke_cli
from tests.support.core import Core
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.reconcile import daily
from voucher_exchange.reconcile.statements import Source
from voucher_exchange.trades import pipeline
from voucher_exchange.trades import repository as trade_repo

pytestmark = [pytest.mark.both_backends, pytest.mark.fresh_sandbox]  # reads whole-day statements

TOLERANCE = timedelta(minutes=15)


def _day(core: Core) -> date:
    return core.ctx.clock.now().astimezone(UTC).date()


def _statement(core: Core, source: str) -> str:
    response = httpx.get(f"{core.sandbox_url}/{source}/statements", params={"date": _day(core).isoformat()})
    assert response.status_code == 200, response.text
    return response.text


def _a_day_of_trades(core: Core) -> dict[str, Any]:
    """Three paid trades (50,000, 30,000, 5,000) and one of 10,000 whose payout the bank refused."""
    core.fund(1_000_000, "seed")
    paid = []
    for face in (50000, 30000, 5000):  # one seller each: velocity rules stay quiet
        user, destination, _ = core.seller()
        paid.append(core.submit(user, destination, face))
    closed_user, closed_destination, _ = core.seller(rail_behavior="reject")
    refused = core.submit(closed_user, closed_destination, 10000)
    for trade_id in [*paid, refused]:
        pipeline.process_trade(core.ctx, trade_id)
    with core.ctx.uow(readonly=True) as uow:
        statuses = [trade_repo.get(uow.conn, t).status.value for t in [*paid, refused]]  # type: ignore[union-attr]
        payouts = {t: payout_service.for_trade(uow.conn, t) for t in [*paid, refused]}
    assert statuses == ["paid", "paid", "paid", "failed"]
    keys = {t: p.idempotency_key for t, p in payouts.items() if p is not None}
    return {"paid": paid, "refused": refused, "keys": keys}


def _cli(core: Core, tmp_path: Path, source: str, text: str) -> tuple[int, str]:
    file = tmp_path / f"{source}.csv"
    file.write_text(text, encoding="utf-8")
    env = {"VX_VAR_DIR": str(core.ctx.settings.var_dir)}
    done = invoke_cli(
        tmp_path, "reconcile", source, str(file), "--date", _day(core).isoformat(),
        "--database-url", core.ctx.settings.database_url, env=env,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, done.stdout


def _runs(core: Core) -> list[Any]:
    with core.ctx.uow(readonly=True) as uow:
        return daily.recent_runs(uow.conn)


def test_a_day_of_trades_reconciles_fully_matched(core: Core, tmp_path: Path) -> None:
    day = _a_day_of_trades(core)

    issuer_code, issuer_out = _cli(core, tmp_path, "issuer", _statement(core, "issuer"))
    rail_code, rail_out = _cli(core, tmp_path, "rail", _statement(core, "rail"))

    assert (issuer_code, rail_code) == (0, 0), issuer_out + rail_out
    assert "reconcile issuer: all 4 line(s) matched" in issuer_out
    assert "reconcile rail: all 4 line(s) matched" in rail_out
    rail, issuer = _runs(core)[:2]
    counts = [(r.source, r.matched, r.missing_ours, r.missing_theirs, r.mismatched) for r in (issuer, rail)]
    assert counts == [(Source.ISSUER, 4, 0, 0, 0), (Source.RAIL, 4, 0, 0, 0)]
    assert issuer.unmatched == rail.unmatched == []
    assert rail.tolerance_seconds == 900 and rail.run_by == "cli" and rail.statement_date == _day(core)
    assert len(day["keys"]) == 4
    # Reconciling moved no money: the books are what the day's trades made them.
    with core.ctx.uow(readonly=True) as uow:
        balances = {b["account"]: (b["balance"], b["pending"]) for b in ledger_service.balances(uow.conn)}
    refused_seller = next(
        a for a, (balance, _) in balances.items() if a.startswith("seller_payable") and balance
    )
    assert balances == {
        "inventory:cultureland": (95_000, 0),
        "margin": (-9_000, 0),
        "operator_capital": (-1_000_000, 0),
        "treasury": (1_000_000 - 45_500 - 27_000 - 4_500, 0),
        **{a: (0, 0) for a in balances if a.startswith("seller_payable") and a != refused_seller},
        refused_seller: (-9_000, 0),
    }
    assert sum(1 for a in balances if a.startswith("seller_payable")) == 4


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def test_a_doctored_issuer_statement_is_reported_line_by_line(core: Core, tmp_path: Path) -> None:
    day = _a_day_of_trades(core)
    header, *lines = _rows(_statement(core, "issuer"))
    by_ref = {line[3]: line for line in lines}
    removed, changed, late = day["paid"][0], day["paid"][1], day["paid"][2]
    by_ref[changed][7] = str(int(by_ref[changed][7]) + 1)  # 30,001 instead of 30,000
    booked = datetime.fromisoformat(by_ref[late][9].replace("Z", "+00:00"))
    by_ref[late][9] = (booked + timedelta(minutes=16)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    added = [lines[0][0], "9", "REDEMPTION", "not-our-trade", "V00009999", "0000", "cultureland", "70000",
             "KRW", lines[0][9]]  # fmt: skip
    doctored = [header, *[line for line in lines if line[3] != removed], added]

    code, out = _cli(core, tmp_path, "issuer", _csv(doctored))

    assert code == 1, out
    assert "reconcile issuer: 4 line(s) unmatched" in out
    run = _runs(core)[0]
    assert (run.matched, run.missing_ours, run.missing_theirs, run.mismatched) == (1, 1, 1, 2)
    assert [(u["bucket"], u["reference"], u["problems"]) for u in run.unmatched] == [
        ("mismatched", changed, ["amount"]),
        ("mismatched", late, ["time"]),
        ("missing_ours", "not-our-trade", []),
        ("missing_theirs", removed, []),
    ]
    amount_line = run.unmatched[0]
    assert (amount_line["theirs"]["amount"], amount_line["ours"]["amount"]) == (30001, 30000)
    assert amount_line["ours"]["where"] == f"trade:{changed}"
    assert run.unmatched[3]["theirs"] is None and run.unmatched[3]["ours"]["amount"] == 50000


def test_a_doctored_bank_statement_is_reported_line_by_line(core: Core) -> None:
    day = _a_day_of_trades(core)
    header, *lines = _rows(_statement(core, "rail"))
    keys = day["keys"]
    by_key = {line[3]: line for line in lines}
    removed, changed, returned = keys[day["paid"][0]], keys[day["paid"][1]], keys[day["refused"]]
    by_key[changed][7] = "27499"
    by_key[returned][2] = "DEBIT"  # the bank says the refused payout left after all
    added = [lines[0][0], "9", "DEBIT", "vx-payout-forged", "RAIL-X", "004", "********0000", "10000", "KRW",
             lines[0][9]]  # fmt: skip
    doctored = _csv([header, *[line for line in lines if line[3] != removed], added])
    statement = daily.Statement(Source.RAIL, _day(core), "rail.csv", doctored)

    with core.ctx.uow() as uow:
        run, results = daily.run(uow.conn, statement, TOLERANCE, "operator@example.com", core.ctx.clock.now())
        uow.commit()

    assert (run.matched, run.missing_ours, run.missing_theirs, run.mismatched) == (1, 1, 1, 2)
    found = sorted((r.bucket.value, r.reference, tuple(p.value for p in r.problems)) for r in results)
    assert found == sorted([
        ("matched", keys[day["paid"][2]], ()),
        ("mismatched", changed, ("amount",)),
        ("mismatched", returned, ("kind",)),
        ("missing_ours", "vx-payout-forged", ()),
        ("missing_theirs", removed, ()),
    ])  # fmt: skip
    assert _runs(core)[0].run_by == "operator@example.com"


def test_a_statement_of_the_wrong_kind_is_refused_and_nothing_is_stored(core: Core, tmp_path: Path) -> None:
    _a_day_of_trades(core)

    file = tmp_path / "rail.csv"
    file.write_text(_statement(core, "rail"), encoding="utf-8")
    env = {"VX_VAR_DIR": str(core.ctx.settings.var_dir)}
    done = invoke_cli(
        tmp_path, "reconcile", "issuer", str(file), "--date", _day(core).isoformat(),
        "--database-url", core.ctx.settings.database_url, env=env,
    )  # fmt: skip

    assert done.returncode == 1
    assert "statement_invalid" in done.stderr and "This is not an issuer settlement file" in done.stderr
    assert _runs(core) == []
