"""Failed issuer calls, recorded as they happen: the guard counts them per hour against the normal.

Only failures are written (a timeout or an error), in a short transaction of their own right
after the call, so the money path writes nothing more when the issuer is healthy.
"""

from __future__ import annotations

from voucher_exchange.context import Context
from voucher_exchange.errors import ExternalTimedOut, ExternalUnavailable
from voucher_exchange.issuers import repository
from voucher_exchange.issuers.models import CallOutcome


def outcome_of(error: ExternalUnavailable) -> CallOutcome:
    """A call that got no answer in time is a timeout; any other unavailability a failure."""
    return CallOutcome.TIMEOUT if isinstance(error, ExternalTimedOut) else CallOutcome.FAILURE


def record_failure(ctx: Context, brand: str, operation: str, error: ExternalUnavailable) -> None:
    """Write one failed call to `brand`'s issuer (`operation`: lookup or redeem) in its own transaction."""
    with ctx.uow() as uow:
        repository.record_failure(uow.conn, brand, operation, outcome_of(error), ctx.clock.now())
        uow.commit()
