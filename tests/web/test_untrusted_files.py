"""Untrusted files on the site stay bounded: a bulk-sell upload and the reconciliation pages.

Security issue 22, item 4 (and the bulk-sell 500 of item 5). Over real HTTP against the
running exchange on its SQLite file, without a browser.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
from sqlalchemy import func, select

from tests.support.exchange import Seller, make_seller
from tests.web.conftest import Site
from tests.web.test_security import PASSWORD, _csrf, _log_in
from voucher_exchange.db.schema import trade_batches, trades, users
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD
from voucher_exchange.reconcile import daily
from voucher_exchange.reconcile.statements import Source

QUIET_DAY = date(2020, 1, 3)  # nothing happened in our books that day
RAIL_HEADER = (
    "statement_date,line,type,end_to_end_id,bank_reference,bank_code,account,amount,currency,"
    "booked_at_utc\r\n"
)


def _stored_for(site: Site, seller: Seller) -> tuple[int, int]:
    """The seller's batches and trades."""
    with site.exchange.ctx.uow(readonly=True) as uow:
        me = uow.conn.execute(select(users.c.id).where(users.c.email == seller.email)).scalar_one()
        batches = uow.conn.execute(
            select(func.count()).select_from(trade_batches).where(trade_batches.c.user_id == me)
        ).scalar_one()
        sold = uow.conn.execute(select(func.count()).select_from(trades).where(trades.c.user_id == me))
        return int(batches), int(sold.scalar_one())


def _upload(client: httpx.Client, seller: Seller, content: bytes) -> httpx.Response:
    form = {
        "brand": "cultureland",
        "face": "5000",
        "method": "gift",
        "acquired_on": "2026-11-01",
        "payout_destination_id": seller.destination_id,
        "csrf_token": _csrf(client, "/sell/batch"),
    }
    return client.post("/sell/batch", data=form, files={"file": ("codes.csv", content, "text/csv")})


def _error(response: httpx.Response) -> str:
    found = re.search(r'<p class="error"[^>]*>(.*?)</p>', response.text, re.S)
    assert found is not None, response.text[:2000]
    return " ".join(found.group(1).split())


def test_a_bulk_upload_with_a_field_over_131072_characters_is_a_422_and_nothing_is_stored(
    site: Site,
) -> None:
    seller = make_seller(site.exchange)
    voucher = site.exchange.mint("cultureland", 5000)
    content = f"code,pin\r\n{voucher['code']}\r\n{'A' * 131_073}\r\n".encode()
    with httpx.Client(base_url=site.url, cookies={"vx_lang": "en"}, timeout=20) as client:
        _log_in(client, seller.email, PASSWORD)

        response = _upload(client, seller, content)

    assert response.status_code == 422
    assert _error(response) == (
        "Line 3 is too long: a code is at most 100 characters and a PIN 40. "
        "Put one code (and its PIN) per line; nothing was stored."
    )
    assert _stored_for(site, seller) == (0, 0)
    assert site.exchange.lookup(voucher["code"])["state"] == "active"


def test_a_bulk_upload_over_200000_bytes_is_a_413_and_nothing_is_stored(site: Site) -> None:
    seller = make_seller(site.exchange)
    voucher = site.exchange.mint("cultureland", 5000)
    content = f"{voucher['code']}\r\n".encode()
    content += b"\r\n" * ((200_001 - len(content)) // 2 + 1)
    with httpx.Client(base_url=site.url, cookies={"vx_lang": "en"}, timeout=20) as client:
        _log_in(client, seller.email, PASSWORD)

        response = _upload(client, seller, content)

    assert response.status_code == 413
    assert _error(response) == (
        "The file is larger than 200,000 bytes. Upload a CSV of at most 50 codes, one per line; "
        "nothing was stored."
    )
    assert _stored_for(site, seller) == (0, 0)
    assert site.exchange.lookup(voucher["code"])["state"] == "active"


def _run(site: Site, lines: int, name: str) -> int:
    text = RAIL_HEADER + "".join(
        f"{QUIET_DAY},{n},DEBIT,stranger-{n},RAIL-{n},004,****6789,100,KRW,{QUIET_DAY}T10:00:00Z\r\n"
        for n in range(1, lines + 1)
    )
    statement = daily.Statement(Source.RAIL, QUIET_DAY, name, text)
    with site.exchange.ctx.uow() as uow:
        run, _ = daily.run(
            uow.conn, statement, timedelta(minutes=15), DEMO_OPERATOR_EMAIL, site.exchange.ctx.clock.now()
        )
        uow.commit()
    return run.id


def test_the_reconciliation_pages_are_paged_however_many_lines_a_run_has(site: Site) -> None:
    big = _run(site, 1_500, "\x1b[2J[bold]bank.csv")
    for n in range(11):
        _run(site, 1, f"bank-{n}.csv")
    with httpx.Client(base_url=site.url, cookies={"vx_lang": "en"}, timeout=20) as client:
        _log_in(client, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)

        first = client.get("/staff/reconciliation")
        second = client.get("/staff/reconciliation", params={"page": 2})
        lines = [client.get(f"/staff/reconciliation/runs/{big}", params={"page": p}) for p in (1, 10, 11)]

    assert [r.status_code for r in (first, second, *lines)] == [200] * 5
    assert len(re.findall(r'<tr class="run"', first.text)) == 10
    assert f'id="run-{big}"' not in first.text
    assert f'id="run-{big}"' in second.text
    section = second.text.split(f'id="unmatched-{big}"')[1].split("</section>")[0]
    assert section.count("<tr><td>") == 50
    assert "The first 50 of 1500 unmatched lines." in section
    assert "\\x1b[2J[bold]bank.csv" in second.text and "\x1b" not in second.text
    # 1,000 of the 1,500 lines are kept with the run, a hundred a page; a page past the last is the last.
    with site.exchange.ctx.uow(readonly=True) as uow:
        stored = daily.stored_run(uow.conn, big)
    assert stored is not None and len(stored.unmatched) == 1000 and stored.missing_ours == 1500
    assert [page.text.count("<tr><td>") for page in lines] == [100, 100, 100]
    assert "stranger-1<" in lines[0].text and "stranger-901<" in lines[1].text
    assert lines[2].text.count("stranger-901<") == 1
    assert "Page 10 of 10" in lines[2].text
    assert "1000 of 1500 unmatched lines are kept with the run" in lines[0].text
    assert max(len(r.content) for r in (first, second, *lines)) < 200_000
