"""Money as integer minor units plus an ISO 4217 currency; never a float.

Rounding rule, used everywhere: a fee is rounded *down* to the minor unit, so any
fraction of a minor unit goes to the seller (fees round in the seller's favour).
"""

from __future__ import annotations

from dataclasses import dataclass

from voucher_exchange.errors import InvalidInput

# Decimal places per currency we trade in; anything else is refused.
CURRENCY_EXPONENTS: dict[str, int] = {"KRW": 0, "USD": 2}

BPS_DENOMINATOR = 10_000
# Nothing we trade is worth more than this many minor units; bounds hostile input.
MAX_MINOR_UNITS = 10**12


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: `amount` minor units of `currency`."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:
            raise InvalidInput("amount_invalid", "An amount must be a whole number of minor units.")
        if self.currency not in CURRENCY_EXPONENTS:
            raise InvalidInput("currency_unsupported", f"Currency {self.currency!r} is not supported.")
        if abs(self.amount) > MAX_MINOR_UNITS:
            raise InvalidInput("amount_invalid", "The amount is too large.")

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidInput("currency_mismatch", "Amounts in different currencies cannot be combined.")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def is_positive(self) -> bool:
        """True when the amount is above zero."""
        return self.amount > 0

    def as_json(self) -> dict[str, int | str]:
        """The wire form: `{"amount": 50000, "currency": "KRW"}`."""
        return {"amount": self.amount, "currency": self.currency}

    def format(self) -> str:
        """Human form for logs and CLI tables, e.g. `₩50,000` or `$25.00`."""
        exp = CURRENCY_EXPONENTS[self.currency]
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 10**exp) if exp else (abs(self.amount), 0)
        symbol = {"KRW": "₩", "USD": "$"}[self.currency]
        text = f"{whole:,}" + (f".{frac:0{exp}d}" if exp else "")
        return f"{sign}{symbol}{text}"


def zero(currency: str) -> Money:
    """Zero of a currency."""
    return Money(0, currency)


def fee_for(face_value: Money, rate_bps: int) -> Money:
    """The fee kept when buying `face_value` at `rate_bps` (the seller gets the rest).

    fee = floor(face × (10000 − rate_bps) / 10000): rounded down, in the seller's favour.
    """
    if not 0 < rate_bps <= BPS_DENOMINATOR:
        raise InvalidInput("rate_invalid", "A buy rate must be between 1 and 10000 basis points.")
    kept_bps = BPS_DENOMINATOR - rate_bps
    return Money(face_value.amount * kept_bps // BPS_DENOMINATOR, face_value.currency)
