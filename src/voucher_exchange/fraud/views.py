"""Fraud cases as staff see them: the list, one case with its matches and linked sellers, the case file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.errors import NotFound
from voucher_exchange.fraud import repository as repo
from voucher_exchange.fraud.models import Case, Match, freeze_reference
from voucher_exchange.payouts import freezes
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.review import seller_file
from voucher_exchange.security.vault import Vault
from voucher_exchange.trades import repository as trade_repo


@dataclass(frozen=True)
class CaseRow:
    """One line of the cases list."""

    case: Case
    source: str
    matches: int
    police_case_number: str | None


@dataclass(frozen=True)
class MatchView:
    """A matched trade with its seller, its freeze and what links the seller to others."""

    match: Match
    seller_email: str
    status_now: str
    freeze: freezes.Freeze | None
    linked: seller_file.Related


@dataclass(frozen=True)
class CaseView:
    """One case for staff."""

    case: Case
    report: dict[str, Any]
    matches: list[MatchView]


def case_list(conn: Connection) -> list[CaseRow]:
    """Cases, open first, newest first."""
    rows = []
    for case in repo.cases(conn):
        report = repo.report(conn, case.report_id)
        rows.append(CaseRow(case, report.source, len(repo.matches(conn, case.id)), report.police_case_number))
    return rows


def _report(conn: Connection, vault: Vault, report_id: str) -> dict[str, Any]:
    row = repo.report(conn, report_id)
    reporter = vault.decrypt_json(row.reporter_enc, report_id)
    codes = sorted(set(repo.fingerprints(conn, report_id).values()))
    return {
        "id": row.id,
        "received_at": row.received_at,
        "source": row.source,
        "reporter": reporter,
        "police_case_number": row.police_case_number,
        "description": row.description,
        "codes": codes,
    }


def case_view(conn: Connection, vault: Vault, case_id: str) -> CaseView:
    """One case: the report (with the reporter, for staff), each match, its freeze and linked sellers."""
    case = repo.case(conn, case_id)
    if case is None:
        raise NotFound("case_unknown", "There is no such case.")
    views = []
    for found in repo.matches(conn, case.id):
        seller = account_repo.by_id(conn, found.user_id)
        trade = trade_repo.get(conn, found.trade_id)
        views.append(
            MatchView(
                found,
                seller.email if seller is not None else found.user_id,
                trade.status.value if trade is not None else "",
                freezes.by_reference(conn, freeze_reference(case.id, found.trade_id)),
                seller_file.related(conn, found.trade_id),
            )
        )
    return CaseView(case, _report(conn, vault, case.report_id), views)


def case_file(conn: Connection, vault: Vault, case_id: str, reveal: bool) -> dict[str, Any]:
    """The case file for law enforcement: who sold each reported voucher, when, and to which account.

    Account numbers are masked unless `reveal` (the caller checked the role and audits it).
    """
    view = case_view(conn, vault, case_id)
    sales = []
    for item in view.matches:
        trade = trade_repo.get(conn, item.match.trade_id)
        assert trade is not None
        seller = account_repo.by_id(conn, trade.user_id)
        destination = payout_repo.destination(conn, trade.payout_destination_id)
        account: dict[str, Any] | None = None
        if destination is not None:
            account = {"bank_code": destination.bank_code, "holder_name": destination.holder_name,
                       "account_number": destination.masked}  # fmt: skip
            if reveal:
                account["account_number"] = vault.decrypt(
                    destination.account_number_enc, destination.id.encode()
                ).decode()
        sales.append(
            {
                "trade_id": trade.id,
                "voucher": item.match.masked,
                "brand": trade.brand_slug,
                "face_value": trade.face_value.as_json(),
                "paid_to_seller": trade.payout.as_json(),
                "sold_at": trade.created_at.isoformat(),
                "paid_at": (paid.isoformat() if (paid := trade_repo.paid_at(conn, trade.id)) else None),
                "status": trade.status.value,
                "seller": {
                    "account_id": trade.user_id,
                    "email": seller.email if seller else None,
                    "legal_name": seller.legal_name if seller else None,
                    "birth_date": seller.birth_date.isoformat() if seller and seller.birth_date else None,
                },
                "client_ip": trade.client_ip,
                "device_id": trade.device_id,
                "payout_account": account,
                "action": item.match.action.value,
            }
        )
    report = view.report
    return {
        "case_id": view.case.id,
        "report": {
            "id": report["id"],
            "received_at": report["received_at"].isoformat(),
            "source": report["source"],
            "police_case_number": report["police_case_number"],
            "description": report["description"],
            "reported_codes": report["codes"],
        },
        "frozen_at": view.case.frozen_at.isoformat() if view.case.frozen_at else None,
        "seconds_to_freeze": view.case.seconds_to_freeze,
        "sales": sales,
        "account_numbers": "full" if reveal else "masked",
    }
