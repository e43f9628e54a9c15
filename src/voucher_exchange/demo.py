"""Demo data: the default catalog, a demo operator, a funded treasury. Safe to run twice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts import two_factor
from voucher_exchange.accounts.models import IdentityCheck, IdentityStatus, Role
from voucher_exchange.catalog import service as catalog
from voucher_exchange.context import Context
from voucher_exchange.money import Money
from voucher_exchange.payouts import service as payout_service

DEMO_OPERATOR_EMAIL = "operator@demo.voucher-exchange.test"
DEMO_OPERATOR_PASSWORD = "demo-operator-pass"  # noqa: S105  # demo only, printed at start
DEMO_REVIEWER_EMAIL = "reviewer@demo.voucher-exchange.test"
DEMO_REVIEWER_PASSWORD = "demo-reviewer-pass"  # noqa: S105  # demo only, printed at start
# Enough for thousands of demo trades: ₩1,000,000,000 or $10,000,000.
# The demo staff's published two-factor key (an authenticator app, or `python -c "import pyotp;
# print(pyotp.TOTP('...').now())"`, turns it into codes). Only `serve --demo` enrols it.
DEMO_TOTP_SECRET = "VXDEMOSTAFFTOTPKEYFORTRYINGONLY2"  # noqa: S105  # demo only, printed at start
DEMO_TREASURY = {"KRW": 1_000_000_000, "USD": 1_000_000_000}


@dataclass(frozen=True)
class DemoLogin:
    """What `serve --demo` prints."""

    email: str
    password: str
    reviewer_email: str = DEMO_REVIEWER_EMAIL
    reviewer_password: str = DEMO_REVIEWER_PASSWORD


def seed(ctx: Context) -> DemoLogin:
    """Load the catalog, create the demo operator, fund the treasury (idempotent)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        catalog.import_catalog(uow.conn, catalog.default_catalog(), now, "demo")
        if accounts.by_email(uow.conn, DEMO_OPERATOR_EMAIL) is None:
            account_service.create_staff(
                uow.conn, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD, Role.OPERATOR, now
            )
            # The demo operator may also reveal codes (each reveal is audited).
            account_service.create_staff(
                uow.conn, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD, Role.REVEAL_CODES, now
            )
        if accounts.by_email(uow.conn, DEMO_REVIEWER_EMAIL) is None:
            account_service.create_staff(
                uow.conn, DEMO_REVIEWER_EMAIL, DEMO_REVIEWER_PASSWORD, Role.REVIEWER, now
            )
        for email, name in ((DEMO_OPERATOR_EMAIL, "Demo Operator"), (DEMO_REVIEWER_EMAIL, "Demo Reviewer")):
            _demo_identity(uow.conn, email, name, now)
        currency = ctx.settings.currency
        payout_service.fund_treasury(
            uow.conn, f"demo-{currency}", Money(DEMO_TREASURY[currency], currency), now
        )
        uow.commit()
    return DemoLogin(DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)


def _demo_identity(conn: Connection, email: str, name: str, now: datetime) -> None:
    """Put a verified identity on file for a demo staff member (reviewers need one to decide; demo only)."""
    found = accounts.by_email(conn, email)
    if found is None or found[0].identity_status is IdentityStatus.VERIFIED:
        return
    user, born = found[0], date(1980, 1, 1)
    accounts.set_identity(conn, user.id, IdentityStatus.VERIFIED, name, born, "010-0000-0000", None)
    accounts.add_identity_check(
        conn,
        IdentityCheck(
            str(uuid.uuid4()), user.id, now, IdentityStatus.VERIFIED, None, name, born, None, False,
            user.kyc_tier, user.kyc_tier,
        ),
    )  # fmt: skip


def enrol_demo_staff(ctx: Context) -> None:
    """Give the demo staff two-factor with the published demo key (idempotent; demo only)."""
    for email in (DEMO_OPERATOR_EMAIL, DEMO_REVIEWER_EMAIL):
        with ctx.uow(readonly=True) as uow:
            found = accounts.by_email(uow.conn, email)
        if found is not None and not two_factor.enrolled(ctx, found[0].id):
            two_factor.enrol_with(ctx, found[0], DEMO_TOTP_SECRET)
