"""Read-only views for the operator's screens that need trades with the catalog, payouts and the ledger.

Nothing here writes: the pages read through these in a read-only unit of work, and the
changes they lead to are use cases of the owners (`catalog.service.change_brand_status`,
`payouts.service.record_treasury_funding`, `trades.service.retry_failed_trade`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from voucher_exchange.catalog import service as catalog_service
from voucher_exchange.catalog.models import Brand, BrandStatus, status_change_needs_confirmation
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.ledger.models import Transfer
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.payouts.models import Payout
from voucher_exchange.trades import service as trade_service


@dataclass(frozen=True)
class StatusChange:
    """A brand status change the operator must confirm, with the trades it touches."""

    brand: Brand
    wanted: BrandStatus
    in_progress: int


def status_change_to_confirm(conn: Connection, slug: str, wanted: BrandStatus) -> StatusChange | None:
    """What to ask before moving a brand to `wanted` (suspending or lifting a suspension); else None."""
    brand = catalog_service.require_brand(conn, slug)
    if not status_change_needs_confirmation(brand.status, wanted):
        return None
    return StatusChange(brand, wanted, trade_service.open_trade_count(conn, brand.slug))


@dataclass(frozen=True)
class PayoutsScreen:
    """The operator's payouts page: payouts in flight, failed trades, the treasury and its funding."""

    pending: list[Payout]
    failed: list[trade_service.FailedTrade]
    treasury: int
    treasury_state: payout_service.TreasuryState
    funding: list[Transfer]
    """Deposits into the treasury, newest first."""


def payouts_screen(conn: Connection, now: datetime, currency: str) -> PayoutsScreen:
    """Everything the payouts page shows, read in one transaction."""
    return PayoutsScreen(
        pending=payout_service.in_flight(conn),
        failed=trade_service.failed_trades(conn, now),
        treasury=payout_service.treasury_available(conn, currency),
        treasury_state=payout_service.treasury_state(conn, currency),
        funding=list(reversed(ledger_service.transfers(conn, key_prefix="funding:"))),
    )
