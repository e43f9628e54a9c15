"""Trade use cases: submit, cancel, read (sellers); retry a failed trade (operators)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from sqlalchemy import Connection, Engine

from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.audit import chain
from voucher_exchange.audit import service as audit
from voucher_exchange.catalog import service as catalog_service
from voucher_exchange.clock import Clock
from voucher_exchange.context import Context
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.errors import Conflict, Forbidden, InvalidInput, NotFound
from voucher_exchange.jobs import queue
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.payouts.models import DestinationStatus, NewPayout, PayoutStatus
from voucher_exchange.quotes import repository as quote_repo
from voucher_exchange.risk import sanctions_customers
from voucher_exchange.risk import windows as risk_windows
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.security.vault import Vault
from voucher_exchange.trades import lifecycle
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import (
    CANCELLABLE,
    PROCESS_TRADE,
    Trade,
    TradeId,
    TradeMovedOn,
    TradeStatus,
)
from voucher_exchange.trades.seller_view import TradeView, view

EARLIEST_ACQUISITION = date(2000, 1, 1)


@dataclass(frozen=True)
class SubmitTrade:
    """A seller's request to sell one voucher under a quote."""

    quote_id: str
    code: str
    pin: str | None
    method: AcquisitionMethod
    acquired_on: date
    payout_destination_id: str
    client_ip: str | None = None
    device_id: str | None = None


def voucher_fingerprint(vault: Vault, brand: str, normalised_code: str) -> str:
    """The keyed hash that finds a code submitted before, by anyone."""
    return vault.fingerprint(f"voucher:{brand}", normalised_code)


def submit(conn: Connection, clock: Clock, vault: Vault, user: User, cmd: SubmitTrade) -> str:
    """Accept a trade for processing; the worker screens, verifies, secures and pays it."""
    if user.is_staff and Role.MAY_SELL not in user.roles:
        raise Forbidden(
            "staff_cannot_sell",
            "Staff accounts cannot sell unless an operator allows it; use a personal account.",
        )
    read = trade_repo.for_submission(conn, user.id, cmd.quote_id, cmd.payout_destination_id)
    if not read.live:
        # Deleted while this request was on its way (the erasure holds the same row lock).
        raise Conflict("account_closed", "This account was deleted; it cannot sell.")
    now = clock.now()
    quote = read.quote
    if quote is None or quote.user_id != user.id:
        raise NotFound("quote_unknown", "There is no such quote. Ask for a new one.", "quote_id")
    if quote.trade_id is not None:
        raise Conflict("quote_used", "This quote was already used. Ask for a new one.", "quote_id")
    if quote.is_expired(now):
        raise Conflict(
            "quote_expired",
            "Your quote has expired. Ask for a new one; it is valid for 15 minutes.",
            "quote_id",
        )
    if read.code_format is None:
        raise catalog_service.unknown_brand(quote.brand)
    code, pin = read.code_format.validate(cmd.code, cmd.pin)
    if not EARLIEST_ACQUISITION <= cmd.acquired_on <= now.date():
        raise InvalidInput(
            "acquired_on_invalid",
            "The acquisition date must be a real date, not in the future.",
            "acquisition.acquired_on",
        )
    destination = read.destination
    if destination is None or destination.user_id != user.id or destination.removed_at is not None:
        raise NotFound(
            "payout_destination_unknown",
            "Add a bank account first and use its id.",
            "payout_destination_id",
        )
    if destination.status is DestinationStatus.REFUSED:
        raise Conflict(
            "payout_destination_refused",
            "The bank refused a transfer to this account. Choose another account, or add this one again "
            "once your bank has fixed it.",
            "payout_destination_id",
        )
    trade_id = TradeId(str(uuid.uuid4()))
    if not quote_repo.take(conn, quote.id, trade_id):
        raise Conflict("quote_used", "This quote was already used. Ask for a new one.", "quote_id")
    listening = trade_repo.insert_trade(
        conn,
        Trade(
            id=trade_id,
            user_id=user.id,
            quote_id=quote.id,
            brand_slug=quote.brand,
            face_value=quote.face_value,
            rate_bps=quote.rate_bps,
            fee=quote.fee,
            payout=quote.payout,
            status=TradeStatus.RECEIVED,
            voucher_enc=vault.encrypt_json({"code": code, "pin": pin}, trade_id),
            voucher_fingerprint=voucher_fingerprint(vault, quote.brand, code),
            voucher_last4=code[-4:],
            acquisition_method=cmd.method.value,
            acquired_on=cmd.acquired_on,
            payout_destination_id=cmd.payout_destination_id,
            client_ip=cmd.client_ip,
            device_id=cmd.device_id,
            account_fingerprint=destination.account_fingerprint,
            issued_at=None,
            issuer_answer=None,
            secured_at=None,
            redemption_ref=None,
            created_at=now,
            updated_at=now,
        ),
    )
    risk_windows.record(
        conn,
        risk_windows.Sighting(
            trade_id, user.id, quote.brand, cmd.device_id, cmd.client_ip, destination.account_fingerprint, now
        ),
    )
    lifecycle.receive(conn, trade_id, now, user.email, user.id, listening)
    return trade_id


def sell_voucher(ctx: Context, user: User, cmd: SubmitTrade) -> str:
    """Use case: a seller submits a voucher under a quote; the new trade's id. Workers wake."""
    with ctx.uow() as uow:
        trade_id = submit(uow.conn, ctx.clock, ctx.vault, user, cmd)
        uow.after_commit(ctx.wake_workers)
        uow.commit()
    return trade_id


def cancel_trade(ctx: Context, user: User, trade_id: str) -> None:
    """Use case: a seller withdraws their trade (see `cancel`)."""
    with ctx.uow() as uow:
        cancel(uow.conn, ctx.clock, user, trade_id)
        uow.commit()


def cancel(conn: Connection, clock: Clock, user: User, trade_id: str) -> None:
    """Withdraw a trade before verification; the voucher's claim is released."""
    trade = trade_repo.get(conn, trade_id)
    if trade is None or trade.user_id != user.id:
        raise NotFound("trade_unknown", "There is no such trade.")
    if trade.status not in CANCELLABLE:
        raise Conflict(
            "trade_not_cancellable",
            f"The trade is {trade.status.value}; it can be cancelled only before verification "
            "or while it is being reviewed.",
        )
    try:
        lifecycle.cancel(conn, trade.id, trade.status, clock.now(), user.email)
    except TradeMovedOn:
        raise Conflict(
            "trade_not_cancellable", "The trade moved on meanwhile; it can no longer be cancelled."
        ) from None


def voucher_to_sell_again(ctx: Context, user: User, trade_id: str) -> tuple[str, str | None, str]:
    """(code, PIN, masked code) of the seller's own trade refused only for its balance: the one-tap
    new quote sells the same voucher without re-typing it. The code never leaves the server."""
    with ctx.uow(readonly=True) as uow:
        shown = get_own(uow.conn, user, trade_id, "en").data
        trade = trade_repo.get(uow.conn, trade_id)
    if not shown["new_quote_offer"] or trade is None:
        raise Conflict(
            "sell_again_unavailable", "Only a voucher refused for its balance can be sold again here."
        )
    secret = ctx.vault.decrypt_json(trade.voucher_enc, trade.id)
    return str(secret["code"]), secret.get("pin"), str(shown["voucher"]["masked"])


def get_own(conn: Connection, user: User, trade_id: str, lang: str) -> TradeView:
    """One of the seller's own trades."""
    trade = trade_repo.get(conn, trade_id)
    if trade is None or trade.user_id != user.id:
        raise NotFound("trade_unknown", "There is no such trade.")
    return view(conn, trade, lang, seller=user)


def own_tag(conn: Connection, user: User, trade_id: str, lang: str) -> str:
    """A weak ETag for the seller's view of one of their trades, from one narrow read: it changes
    with the status, every update of the trade and every new decision (NotFound as `get_own`)."""
    found = trade_repo.version(conn, trade_id)
    if found is None or found[0] != user.id:
        raise NotFound("trade_unknown", "There is no such trade.")
    _, status, updated_at, decision = found
    return f'W/"{status}-{int(updated_at.timestamp() * 1_000_000)}-{decision}-{lang}"'


def own_version(conn: Connection, user: User, trade_id: str) -> tuple[TradeStatus, str]:
    """The status of one of the seller's trades and "<status>@<updated_at>" as its view shows
    them, from one narrow read (the web timeline's change check; NotFound as `get_own`)."""
    found = trade_repo.version(conn, trade_id)
    if found is None or found[0] != user.id:
        raise NotFound("trade_unknown", "There is no such trade.")
    status, updated_at = found[1], found[2]
    return TradeStatus(status), f"{status}@{updated_at.isoformat().replace('+00:00', 'Z')}"


def list_own(
    conn: Connection, user: User, lang: str, limit: int, status: TradeStatus | None
) -> list[TradeView]:
    """The seller's trades, newest first."""
    return [view(conn, t, lang, seller=user) for t in trade_repo.list_for_user(conn, user.id, limit, status)]


def used_since(conn: Connection, user_id: str, since: datetime) -> int:
    """Face value the seller has sold (or is selling) since `since`, in minor units (for limits)."""
    return trade_repo.used_since(conn, user_id, since, "")


def paid_at(conn: Connection, trade_id: str) -> datetime | None:
    """When the trade became paid (for its receipt)."""
    return trade_repo.paid_at(conn, trade_id)


@dataclass(frozen=True)
class FailedTrade:
    """A trade an operator must look at, with its payout's status when it has one, and how long it waits."""

    trade: Trade
    payout_status: PayoutStatus | None
    waiting_minutes: int

    @property
    def seller_can_recover(self) -> bool:
        """The bank refused the payout: the seller can choose another account themselves."""
        return self.payout_status is PayoutStatus.REJECTED


def failed_trades(conn: Connection, now: datetime, limit: int = 500) -> list[FailedTrade]:
    """Failed trades, longest waiting first."""
    failed = trade_repo.list_by_status(conn, TradeStatus.FAILED, limit)
    statuses = payout_service.statuses_for_trades(conn, [t.id for t in failed])
    return [
        FailedTrade(t, statuses.get(t.id), int((now - t.updated_at).total_seconds() // 60)) for t in failed
    ]


def redirect_trade_payout(ctx: Context, user: User, trade_id: str, destination_id: str) -> None:
    """Use case: after the bank refused a payout, the seller picks another account; workers wake."""
    with ctx.uow() as uow:
        redirect_payout(uow.conn, ctx.clock, user, trade_id, destination_id)
        uow.after_commit(ctx.wake_workers)
        uow.commit()


def redirect_payout(conn: Connection, clock: Clock, user: User, trade_id: str, destination_id: str) -> None:
    """After the bank refused a payout: send the money to another of the seller's verified accounts."""
    trade = trade_repo.get(conn, trade_id)
    if trade is None or trade.user_id != user.id:
        raise NotFound("trade_unknown", "There is no such trade.")
    refused = payout_service.for_trade(conn, trade.id)
    if (
        trade.status is not TradeStatus.FAILED
        or refused is None
        or refused.status is not PayoutStatus.REJECTED
    ):
        raise Conflict(
            "payout_not_refused",
            "Only a payout the bank refused can be sent to another account; this trade's was not.",
        )
    destination = payout_service.destination(conn, destination_id)
    if destination is None or destination.user_id != user.id or destination.removed_at is not None:
        raise NotFound(
            "payout_destination_unknown", "Add a bank account first and use its id.", "payout_destination_id"
        )
    if destination.id == refused.destination_id or destination.status is DestinationStatus.REFUSED:
        raise Conflict(
            "payout_destination_refused",
            "Your bank refused this account. Choose or add another account in your own name.",
            "payout_destination_id",
        )
    if destination.status is not DestinationStatus.VERIFIED:
        raise Conflict(
            "payout_destination_unverified",
            "That account is not verified in your own name. Choose or add one that is.",
            "payout_destination_id",
        )
    now = clock.now()
    retry = NewPayout(trade.id, user.id, destination.id, refused.amount, attempt=refused.attempt + 1)
    payout_service.create(conn, retry, now)
    try:
        lifecycle.redirect_payout(conn, trade.id, now, user.email, destination.id)
    except TradeMovedOn:
        raise Conflict("payout_not_refused", "The trade moved on meanwhile.") from None


def retry_failed_trade(ctx: Context, actor: str, trade_id: str) -> TradeStatus:
    """Use case: an operator puts a failed trade back to work (see `retry_failed`); workers wake."""
    with ctx.uow() as uow:
        target = retry_failed(uow.conn, ctx.clock, actor, trade_id)
        uow.after_commit(ctx.wake_workers)
        uow.commit()
    return target


def retry_failed(conn: Connection, clock: Clock, actor: str, trade_id: str) -> TradeStatus:
    """Put a failed trade back to work where it stopped; never past a step it has not done.

    Failed before its value was secured → it redeems again only if it had reached redemption
    (screening and verification are done); failed after → its one payout is sent (or asked
    about) again with the same rail key. Secured but with no payout yet → credited again, so the
    pipeline opens the payout as it always does: asking whether the seller may be paid into that
    account now and netting what they owe after a reversal. A payout the bank refused is not
    retried blindly.
    """
    trade = trade_repo.get(conn, trade_id)
    if trade is None:
        raise NotFound("trade_unknown", "There is no such trade.")
    if trade.status is not TradeStatus.FAILED:
        raise Conflict(
            "trade_not_failed", f"The trade is {trade.status.value}; only failed trades are retried."
        )
    payout = payout_service.for_trade(conn, trade.id)
    if payout is not None and payout.status is PayoutStatus.REJECTED:
        raise Conflict(
            "payout_refused_by_bank",
            "The bank refused this transfer. Contact the seller for a new account; "
            "retrying would fail again.",
        )
    origin = trade_repo.came_from(conn, trade.id, TradeStatus.FAILED)
    now = clock.now()
    if trade.secured_at is not None:
        target = TradeStatus.CREDITED if payout is None else TradeStatus.PAYING_OUT
    elif origin is TradeStatus.REDEEMING:
        target = TradeStatus.REDEEMING
    else:
        raise Conflict(
            "retry_not_possible",
            "The trade failed before its voucher was verified; ask the seller to sell it again.",
        )
    try:
        lifecycle.retry(conn, trade.id, target, now, actor)
    except TradeMovedOn:
        raise Conflict("trade_not_failed", "The trade moved on meanwhile.") from None
    audit.record_change(
        conn, actor, "trade.retry", trade.id, {"status": trade.status.value}, {"status": target.value}, now
    )
    return target


@dataclass(frozen=True)
class HistoryCheck:
    """What walking every trade's hash-chained history found."""

    trades: int
    events: int
    findings: list[str]


def verify_histories(conn: Connection) -> HistoryCheck:
    """Every trade's events, chain by chain: an edited, deleted or reordered event is named.

    The trade's own status is the chain's head: a history whose last event does not lead to
    it lost its newest events.
    """
    findings: list[str] = []
    trades = events = 0
    for trade_id, status, entries in trade_repo.chained_histories(conn):
        trades += 1
        events += len(entries)
        verdict = chain.verify(entries)
        findings += [
            f"trade {trade_id}: {f.kind.value}: {f.detail.replace('entry', 'event')}"
            for f in verdict.findings
        ]
        if entries and entries[-1].action.split("->")[1] != status:
            findings.append(f"trade {trade_id}: truncated: its history ends before its status ({status})")
    return HistoryCheck(trades, events, findings)


def remove_payout_destination(ctx: Context, user: User, destination_id: str) -> None:
    """Stop offering one of the seller's accounts; refused while money is on its way to it
    (a payout in flight, or a trade not yet at rest that will pay into it)."""
    with ctx.uow() as uow:
        if payout_repo.has_payout_in_flight(uow.conn, destination_id) or trade_repo.open_trades_paying_to(
            uow.conn, destination_id
        ):
            raise Conflict(
                "payout_destination_in_use",
                "Money is on its way to this account. Remove it once those trades are paid.",
            )
        if not payout_repo.remove(uow.conn, user.id, destination_id, ctx.clock.now()):
            raise NotFound("payout_destination_unknown", "There is no such account of yours.")
        uow.commit()


class Released(Enum):
    """Why a sanctions release did nothing."""

    NO_SUCH_CUSTOMER = "no_such_customer"
    NOT_FROZEN = "not_frozen"


def release_sanctions_freeze(engine: Engine, email: str, reviewer: str, now: datetime) -> int | Released:
    """A reviewer releases a customer's frozen payouts (audited); their credited and paying-out
    trades look again. How many trades resume, or why nothing was released."""
    with UnitOfWork(engine) as uow:
        found = account_repo.by_email(uow.conn, email)
        if found is None:
            return Released.NO_SUCH_CUSTOMER
        user = found[0]
        if not sanctions_customers.release_freeze(uow.conn, user.id, reviewer, now):
            return Released.NOT_FROZEN
        waiting = resume_held_payouts(uow.conn, user.id, now)
        uow.commit()
    return waiting


def resume_held_payouts_job(ctx: Context, user_id: str) -> None:
    """The `seller.cleared` job: the seller was verified again; their held payouts look again."""
    with ctx.uow() as uow:
        resume_held_payouts(uow.conn, user_id, ctx.clock.now())
        uow.after_commit(ctx.wake_workers)
        uow.commit()


def resume_held_payouts(conn: Connection, user_id: str, now: datetime) -> int:
    """After a new identity check or a sanctions release: the seller's credited and paying-out
    trades run again (each checks once more whether it may be paid); how many."""
    held = [
        trade.id
        for status in (TradeStatus.CREDITED, TradeStatus.PAYING_OUT)
        for trade in trade_repo.list_for_user(conn, user_id, 1000, status)
    ]
    for trade_id in held:
        queue.enqueue(conn, PROCESS_TRADE, trade_id, now)
    return len(held)


def open_trade_count(conn: Connection, brand_slug: str) -> int:
    """How many of a brand's trades are still under way (for the operator deciding to suspend it)."""
    return trade_repo.open_count_for_brand(conn, brand_slug)
