"""Demo data: the default catalog, a demo operator, a funded treasury. Safe to run twice."""

from __future__ import annotations

from dataclasses import dataclass

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts import two_factor
from voucher_exchange.accounts.models import Role
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
        currency = ctx.settings.currency
        payout_service.fund_treasury(
            uow.conn, f"demo-{currency}", Money(DEMO_TREASURY[currency], currency), now
        )
        uow.commit()
    return DemoLogin(DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)


def enrol_demo_staff(ctx: Context) -> None:
    """Give the demo staff two-factor with the published demo key (idempotent; demo only)."""
    for email in (DEMO_OPERATOR_EMAIL, DEMO_REVIEWER_EMAIL):
        with ctx.uow(readonly=True) as uow:
            found = accounts.by_email(uow.conn, email)
        if found is not None and not two_factor.enrolled(ctx, found[0].id):
            two_factor.enrol_with(ctx, found[0], DEMO_TOTP_SECRET)
