"""The seller's story tells the promise's steps (queued for the banks' window, compensated)."""

from __future__ import annotations

from voucher_exchange.trades import lifecycle
from voucher_exchange.web.story import story, went_off_path


def _events(*steps: tuple[str, str | None]) -> list[dict[str, object]]:
    return [{"at": f"2026-12-07T0{i}:00:00Z", "status": s, "note": n} for i, (s, n) in enumerate(steps)]


def test_a_compensated_payout_is_told_once_in_its_place() -> None:
    events = _events(
        ("received", None),
        ("credited", None),
        ("paying_out", None),
        ("paying_out", lifecycle.COMPENSATION_NOTE),
        ("paid", None),
    )
    assert went_off_path(events)
    assert [(s["step"], s["text"]) for s in story(events)] == [
        ("received", "We received your voucher."),
        ("credited", "The voucher's value was secured and credited to you."),
        ("paying_out", "We are sending the money to your bank."),
        (
            "paying_out",
            "We missed our payout-time promise, so we added the promised compensation to this payout.",
        ),
        ("paid", "Your bank received the money."),
    ]


def test_a_payout_queued_for_the_banks_window_says_so() -> None:
    events = _events(("received", None), ("paying_out", None), ("paying_out", lifecycle.BANK_WINDOW_NOTE))
    assert went_off_path(events)
    assert story(events)[-1]["text"].startswith("The banks do not take transfers at this hour.")


def test_a_plain_trade_tells_no_story() -> None:
    assert not went_off_path(_events(("received", None), ("paying_out", None), ("paid", None)))
