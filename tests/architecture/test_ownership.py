"""One owner per table: every table has exactly one package that writes it; others ask that package.

The scanner (`tests/support/ownership.py`) reads every module's syntax tree for writes in every
form SQLAlchemy and raw SQL allow, however the table was imported or aliased. Planted
violations below prove each form is caught.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.support.imports import ROOT, module_name, package_of, source_files
from tests.support.ownership import schema_tables, writes_in_source

# table → the one package that writes it. Reading across packages is allowed (views, features).
OWNERS = {
    # fraud: victims' and issuers' reports, their cases and matched trades
    "fraud_reports": "fraud",
    "fraud_report_codes": "fraud",
    "fraud_cases": "fraud",
    "fraud_matches": "fraud",
    # accounts: the seller's record, their credentials and identity checks
    "users": "accounts",
    "account_tokens": "accounts",
    "api_tokens": "accounts",
    "staff_totp": "accounts",
    "totp_recovery_codes": "accounts",
    "identity_checks": "accounts",
    "person_links": "accounts",
    "role_requests": "accounts",
    # kernel
    "jobs": "jobs",
    "audit_log": "audit",
    "audit_chain_head": "audit",
    "rate_counters": "security",
    "idempotency_keys": "idempotency",
    # capabilities
    "brands": "catalog",
    "brand_rates": "catalog",
    "quotes": "quotes",
    "trades": "trades",
    "trade_events": "trades",
    "trade_facts": "trades",
    "trade_appeals": "disputes",
    "trade_batches": "trades",
    "trade_batch_lines": "trades",
    "voucher_claims": "trades",
    "decisions": "trades",
    "seller_flags": "trades",
    "ledger_accounts": "ledger",
    "ledger_transfers": "ledger",
    "payouts": "payouts",
    "payout_destinations": "payouts",
    "payout_freezes": "payouts",
    "payout_freeze_holds": "payouts",
    "voucher_chargebacks": "reversals",
    "reconciliation_runs": "reconcile",
    "risk_rulesets": "risk",
    "risk_counts": "risk",
    "risk_links": "risk",
    "trade_labels": "risk",
    "sanctions_lists": "risk",
    "sanctions_names": "risk",
    "sanctions_clearances": "risk",
    "sanctions_freezes": "risk",
    "sanctions_screenings": "risk",
    "receipt_keys": "receipts",
    "receipts": "receipts",
    "business_profile": "trust",
    "consent_documents": "trust",
    "user_consents": "trust",
    # apikeys: partner API keys (hashes only)
    "api_keys": "apikeys",
    # KYC tier 2: the documents sellers upload and the reviewers' decisions
    "identity_documents": "identity",
    # review: who asked to see a voucher code, who approved, who saw it
    "reveal_requests": "review",
    # webhooks: endpoints, and the events other capabilities record through `webhooks.events`
    "webhook_endpoints": "webhooks",
    "webhook_events": "webhooks",
    "webhook_deliveries": "webhooks",
    "webhook_attempts": "webhooks",
    # issuers: the issuer guard (facts, failed calls, settlements per statement, rules, actions, exposure)
    "issuers": "issuers",
    "issuer_call_failures": "issuers",
    "issuer_settlements": "issuers",
    "issuer_guard_rules": "issuers",
    "issuer_guard_actions": "issuers",
    "issuer_exposure_points": "issuers",
    # promises: the payout-time promise's terms, and the promise each trade was made
    "payout_promise_terms": "promises",
    "trade_promises": "promises",
}
TABLES = schema_tables((ROOT / "db" / "schema.py").read_text(encoding="utf-8"))


def writers() -> dict[str, dict[str, list[str]]]:
    """table → package → the places in it that write the table."""
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in source_files():
        package = package_of(module_name(path))
        for write in writes_in_source(path.read_text(encoding="utf-8"), TABLES):
            found[write.table][package].append(f"{path.relative_to(ROOT)}:{write.line} {write.form}")
    return found


def test_every_table_has_one_named_owner() -> None:
    assert set(OWNERS) == TABLES
    assert len(TABLES) >= 40


def test_each_table_is_written_only_by_its_owner() -> None:
    foreign = {
        table: {package: places for package, places in by_package.items() if package != OWNERS[table]}
        for table, by_package in writers().items()
    }
    assert {table: places for table, places in foreign.items() if places} == {}


def test_every_owner_really_writes_its_table() -> None:
    # An owner that writes nothing means the table moved, or the scanner went blind.
    written = writers()
    unwritten = sorted(t for t in TABLES if OWNERS[t] not in written.get(t, {}))
    assert unwritten == []


T = "from voucher_exchange.db.schema import trades\n"
PLANTED = [
    # Each source writes `trades` once, in one of the forms the scanner must see.
    (f"{T}conn.execute(update(trades).values(status='paid'))"),
    ("from voucher_exchange.db.schema import trades as t\nconn.execute(sa.update(t).values(status='paid'))"),
    ("import voucher_exchange.db.schema as schema\nconn.execute(schema.trades.update().values(status='x'))"),
    ("from voucher_exchange.db import schema\nt = schema.trades\nconn.execute(sa.update(t))"),
    ("from voucher_exchange.db import schema as s\nconn.execute(s.trades.delete())"),
    (f"{T}conn.execute(trades.insert().values(id='t'))"),
    (f"{T}q = insert(trades)\nconn.execute(q)"),
    (f"{T}conn.execute(pg.insert(trades).on_conflict_do_nothing())"),
    (T + "insert_ignore(conn, trades, {'id': 't'}, ['id'])"),
    ("from voucher_exchange.db.schema import metadata\nconn.execute(update(metadata.tables['trades']))"),
    ("from voucher_exchange.db import schema\nconn.execute(delete(schema.metadata.tables['trades']))"),
    ("import voucher_exchange.db.schema\nconn.execute(update(voucher_exchange.db.schema.trades))"),
    (f"{T}a = trades\nb = a\nconn.execute(update(b))"),
    ("from voucher_exchange.db.schema import trades, quotes\nt = trades if x else quotes\nupdate(t)"),
    (f"{T}for t, w in ((trades, 1),):\n    update(t)"),
    (f"{T}ts = []\nts.append((trades, 1))\nfor t, w in ts:\n    update(t)"),
    ("conn.exec_driver_sql(\"UPDATE trades SET status = 'paid' WHERE id = ?\")"),
    ('conn.execute(text("update trades set status = :s"))'),
    ('conn.execute(text("INSERT INTO trades (id) VALUES (:id)"))'),
    ('conn.execute(text("INSERT OR IGNORE INTO trades (id) VALUES (1)"))'),
    ('conn.execute(text("DELETE FROM \\"trades\\" WHERE id = 1"))'),
]


@pytest.mark.parametrize("source", PLANTED)
def test_each_planted_write_is_caught(source: str) -> None:
    found = {w.table for w in writes_in_source(source, TABLES)}
    assert "trades" in found, source


def test_reads_and_prose_are_not_writes() -> None:
    source = (
        '"""Add or update trades; delete from trades nothing."""\n'
        "from voucher_exchange.db.schema import trades, users\n"
        "def f(conn):\n"
        '    """Update trades set nothing: prose."""\n'
        "    conn.execute(select(trades).where(trades.c.status == 'paid'))\n"
        "    conn.execute(update(users).values(language='ko'))\n"
        "    things = [1, 2]\n"
        "    things.append(3)\n"
        "    log('UPDATE happened')\n"
    )
    assert [(w.table, w.form) for w in writes_in_source(source, TABLES)] == [("users", "update(users)")]
