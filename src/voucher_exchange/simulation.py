"""Synthetic, labelled traffic through the real pipeline: honest sellers and seven typologies.

Runs the service layer and the worker in-process on a simulated clock (so accounts
can age and bursts can happen in minutes), against the sandboxes over HTTP.
Every trade is labelled good or bad with its typology, for backtests.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import User
from voucher_exchange.clock import FrozenClock
from voucher_exchange.context import Context
from voucher_exchange.db.schema import decisions, trades
from voucher_exchange.identity import service as identity
from voucher_exchange.money import Money
from voucher_exchange.quotes import service as quotes
from voucher_exchange.risk import repository as risk
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.trades import service as trade_service
from voucher_exchange.worker.runner import Worker

# Typology → the rule (or hard reason) meant to catch it.
INTENDED = {
    "honest": None,
    "velocity_burst": "seller_velocity_1h",
    "duplicate_code": "duplicate_voucher",
    "mule_ring": "mule_shared_account",
    "account_takeover": "takeover_new_account_burst",
    "carrier_billing_gift": "carrier_billing_prohibited",
    "scam_victim_batch": "scam_brand_new_account",
    "fresh_cashout": "fresh_voucher_cashout",
}
WEIGHTS = {"honest": 60, "velocity_burst": 6, "duplicate_code": 6, "mule_ring": 6, "account_takeover": 6,
           "carrier_billing_gift": 6, "scam_victim_batch": 5, "fresh_cashout": 5}  # fmt: skip
HONEST_BRANDS = [("cultureland", [10000, 30000, 50000]), ("booknlife", [10000, 50000]),
                 ("shinsegae", [30000, 50000, 100000]), ("lotte", [30000, 50000]),
                 ("google-play-kr", [10000, 15000, 30000])]  # fmt: skip


@dataclass
class Typology:
    """What happened to one typology's trades."""

    trades: int = 0
    flagged: int = 0
    caught_by_intended: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass
class SimResult:
    """Per typology and overall."""

    typologies: dict[str, Typology] = field(default_factory=dict)

    def totals(self) -> tuple[int, int, int, int]:
        """(bad, bad flagged, good, good flagged)."""
        bad = sum(t.trades for k, t in self.typologies.items() if k != "honest")
        bad_flagged = sum(t.flagged for k, t in self.typologies.items() if k != "honest")
        good = self.typologies.get("honest", Typology())
        return bad, bad_flagged, good.trades, good.flagged

    def precision(self) -> float:
        """Flagged trades that were bad."""
        _, bad_flagged, _, good_flagged = self.totals()
        return bad_flagged / (bad_flagged + good_flagged) if bad_flagged + good_flagged else 0.0

    def recall(self) -> float:
        """Bad trades that were flagged."""
        bad, bad_flagged, _, _ = self.totals()
        return bad_flagged / bad if bad else 0.0


@dataclass
class _Seller:
    user: User
    destination_id: str
    name: str
    device: str


class Simulator:
    """Drives scenarios; `ctx.clock` must be a FrozenClock, which the simulator moves forward."""

    def __init__(self, ctx: Context, sandbox_url: str, seed: int) -> None:
        self.ctx = ctx
        self.clock: FrozenClock = ctx.clock  # type: ignore[assignment]
        self.sandbox = httpx.Client(base_url=sandbox_url, timeout=30)
        self.rng = random.Random(seed)  # simulation only; no security role  # noqa: S311
        self.worker = Worker(ctx)
        self.submitted: list[tuple[str, str, bool]] = []  # (trade id, typology, bad)
        self.sold_codes: list[tuple[dict[str, Any], str, int]] = []  # (voucher, brand, face)
        self._n = 0

    # --- the outside world and sellers ---------------------------------------------------------

    def _uid(self) -> str:
        self._n += 1
        return f"{self._n:05d}{self.rng.randrange(10**6):06d}"

    def _aged(self, low_hours: float, high_hours: float) -> timedelta:
        """A random voucher age between two numbers of hours."""
        return timedelta(hours=self.rng.uniform(low_hours, high_hours))

    def _mint(self, brand: str, face: int, issued_ago: timedelta, channel: str) -> dict[str, Any]:
        """A voucher minted at the sandbox issuer, `issued_ago` before now (its age, not an amount)."""
        issued = (self.clock.now() - issued_ago).isoformat()
        body = {"brand": brand, "face_value": face, "issued_at": issued, "purchase_channel": channel}
        response = self.sandbox.post("/issuer/vouchers", json=body)
        response.raise_for_status()
        minted: dict[str, Any] = response.json()
        return minted

    def _seller(
        self, name: str | None = None, account: str | None = None, device: str | None = None
    ) -> _Seller:
        uid = self._uid()
        name = name or f"Sim Seller {uid}"
        with self.ctx.uow() as uow:
            user = account_service.sign_up(
                uow.conn, f"sim-{uid}@example.com", "simulated-pass", self.clock.now()
            ).user
            uow.commit()
        identity.verify_identity(self.ctx, user, name, date(1985, 1, 1), "010-2222-3333")
        return self._add_account(self._fresh(user), name, account, device or f"dev-{uid}")

    def _add_account(self, user: User, name: str, account: str | None, device: str) -> _Seller:
        account = account or f"77{self._uid()}"
        self.sandbox.post(
            "/rail/accounts", json={"bank_code": "004", "account_number": account, "holder_name": name}
        )
        dest = identity.add_payout_destination(self.ctx, self._fresh(user), "004", account, name)
        return _Seller(self._fresh(user), dest.id, name, device)

    def _fresh(self, user: User) -> User:
        with self.ctx.uow(readonly=True) as uow:
            found = accounts.by_id(uow.conn, user.id)
        assert found is not None
        return found

    def _sell(self, seller: _Seller, voucher: dict[str, Any], brand: str, face: int, declared: str,
              typology: str, bad: bool) -> str:  # fmt: skip
        with self.ctx.uow() as uow:
            quote = quotes.create_quote(
                uow.conn, self.ctx.settings, self.ctx.clock, seller.user, brand, Money(face, "KRW")
            )
            cmd = trade_service.SubmitTrade(
                quote.id, voucher["code"], voucher.get("pin"), AcquisitionMethod(declared),
                self.clock.now().date() - timedelta(days=1), seller.destination_id, None, seller.device,
            )  # fmt: skip
            trade_id = trade_service.submit(uow.conn, self.ctx.clock, self.ctx.vault, seller.user, cmd)
            risk.label(uow.conn, trade_id, "bad" if bad else "good", "simulation", typology, self.clock.now())
            uow.commit()
        while self.worker.run_once():
            pass
        self.submitted.append((trade_id, typology, bad))
        self.clock.advance(timedelta(minutes=self.rng.randint(1, 9)))
        return trade_id

    # --- scenarios ---------------------------------------------------------------------------------

    def honest(self) -> None:
        seller = self._seller()
        for _ in range(self.rng.choice([1, 1, 2, 3])):
            brand, faces = self.rng.choice(HONEST_BRANDS)
            face = self.rng.choice(faces)
            declared = self.rng.choice(["gift", "card"])
            voucher = self._mint(brand, face, self._aged(72, 24 * 60), "card")
            self._sell(seller, voucher, brand, face, declared, "honest", False)
            self.sold_codes.append((voucher, brand, face))
            self.clock.advance(timedelta(days=self.rng.uniform(1, 6)))

    def velocity_burst(self) -> None:
        seller = self._seller()
        for _ in range(8):
            voucher = self._mint("cultureland", 10000, self._aged(100, 500), "card")
            self._sell(seller, voucher, "cultureland", 10000, "gift", "velocity_burst", True)

    def duplicate_code(self) -> None:
        if not self.sold_codes:
            return
        voucher, brand, face = self.rng.choice(self.sold_codes)
        self._sell(self._seller(), voucher, brand, face, "gift", "duplicate_code", True)

    def mule_ring(self) -> None:
        name, account, device = f"Mule Holder {self._uid()}", f"66{self._uid()}", f"mule-dev-{self._uid()}"
        for _ in range(3):
            seller = self._seller(name, account, device)
            for _ in range(2):
                voucher = self._mint("cultureland", 50000, self._aged(100, 500), "card")
                self._sell(seller, voucher, "cultureland", 50000, "gift", "mule_ring", True)

    def account_takeover(self) -> None:
        seller = self._seller()
        voucher = self._mint("cultureland", 30000, timedelta(hours=400), "card")
        self._sell(seller, voucher, "cultureland", 30000, "card", "honest", False)
        self.clock.advance(timedelta(days=20))
        taken = self._add_account(seller.user, seller.name, None, f"attacker-{self._uid()}")
        for _ in range(4):
            voucher = self._mint("shinsegae", 100000, self._aged(100, 500), "card")
            self._sell(taken, voucher, "shinsegae", 100000, "gift", "account_takeover", True)

    def carrier_billing_gift(self) -> None:
        seller = self._seller()
        for _ in range(3):
            voucher = self._mint("cultureland", 50000, timedelta(hours=1.5), "carrier_billing")
            self._sell(seller, voucher, "cultureland", 50000, "gift", "carrier_billing_gift", True)

    def scam_victim_batch(self) -> None:
        seller = self._seller()
        for _ in range(3):
            voucher = self._mint("google-play-kr", 150000, timedelta(hours=2), "card")
            self._sell(seller, voucher, "google-play-kr", 150000, "card", "scam_victim_batch", True)

    def fresh_cashout(self) -> None:
        seller = self._seller()
        for _ in range(4):
            voucher = self._mint("cultureland", 50000, self._aged(0.5, 3), "unknown")
            self._sell(seller, voucher, "cultureland", 50000, "gift", "fresh_cashout", True)
            self.clock.advance(self._aged(2, 20))

    def run(self, trades_wanted: int, progress: Callable[[int], None] | None = None) -> SimResult:
        """Run scenarios until about `trades_wanted` trades were submitted; then tally."""
        names, weights = list(WEIGHTS), list(WEIGHTS.values())
        self.honest()  # duplicates need something sold first
        while len(self.submitted) < trades_wanted:
            getattr(self, self.rng.choices(names, weights)[0])()
            self.clock.advance(timedelta(minutes=self.rng.randint(10, 240)))
            if progress:
                progress(len(self.submitted))
        return self.tally()

    def tally(self) -> SimResult:
        """Outcomes per typology, read back from the stored decisions."""
        result = SimResult({name: Typology() for name in INTENDED})
        with self.ctx.uow(readonly=True) as uow:
            for trade_id, typology, bad in self.submitted:
                status = uow.conn.execute(select(trades.c.status).where(trades.c.id == trade_id)).scalar_one()
                rows = uow.conn.execute(
                    select(
                        decisions.c.stage, decisions.c.outcome, decisions.c.reasons, decisions.c.evidence
                    ).where((decisions.c.trade_id == trade_id) & (decisions.c.stage != "shadow"))
                ).all()
                final = next(
                    (r for r in reversed(rows) if r.outcome != "approve"), rows[-1] if rows else None
                )
                outcome = final.outcome if final else "approve"
                hit_ids = {r["id"] for row in rows for r in (row.evidence or {}).get("rules", []) if r["hit"]}
                codes = {code for row in rows for code in row.reasons}
                tally = result.typologies[typology if bad else "honest"]
                tally.trades += 1
                tally.outcomes[outcome if status != "paid" else "approve"] += 1
                flagged = outcome in ("review", "reject")
                tally.flagged += flagged
                intended = INTENDED[typology]
                tally.caught_by_intended += bool(
                    flagged and intended and (intended in hit_ids or intended in codes)
                )
        return result


def sim_start(now: datetime | None = None) -> datetime:
    """Simulations begin 60 days before the real now, so they end in the past."""
    return (now or datetime.now(UTC)) - timedelta(days=60)
