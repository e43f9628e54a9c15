"""The steps a seller is told, in plain words, when a trade leaves the happy path."""

from __future__ import annotations

from voucher_exchange.web import story


def _events(*statuses: str) -> list[dict[str, object]]:
    return [{"at": f"2026-11-27T06:{i:02d}:00Z", "status": s} for i, s in enumerate(statuses)]


def test_a_happy_trade_needs_no_story() -> None:
    happy = _events("received", "screening", "verifying", "redeeming", "credited", "paying_out", "paid")
    assert not story.went_off_path(happy)


def test_a_refused_payout_sent_elsewhere_is_told_step_by_step() -> None:
    events = _events(
        "received",
        "screening",
        "verifying",
        "redeeming",
        "credited",
        "paying_out",
        "failed",
        "paying_out",
        "paid",
    )
    told = story.story(events)
    assert [(s["step"], s["text"]) for s in told] == [
        ("received", "We received your voucher."),
        ("credited", "The voucher's value was secured and credited to you."),
        ("paying_out", "We are sending the money to your bank."),
        ("failed", "Your bank did not accept the transfer. The money is kept safe for you."),
        ("paying_out", "We sent the money again, to the account you chose."),
        ("paid", "Your bank received the money."),
    ]
    assert told[3]["at"] == "2026-11-27T06:06:00Z"


def test_a_review_approved_refused_or_withdrawn() -> None:
    approved = story.story(_events("received", "screening", "in_review", "verifying", "redeeming"))
    assert [s["text"] for s in approved] == [
        "We received your voucher.",
        "A person started checking this trade.",
        "A reviewer approved this trade.",
    ]
    refused = story.story(_events("received", "screening", "in_review", "rejected"))
    assert refused[-1]["text"] == "A reviewer refused this trade. No payout and no fee."
    withdrawn = story.story(_events("received", "screening", "in_review", "cancelled"))
    assert withdrawn[-1]["text"] == "You withdrew this trade during the review. Nothing was taken."
    operator = story.story(_events("received", "screening", "verifying", "failed", "verifying"))
    assert [s["step"] for s in operator][-2:] == ["failed", "verifying"]
    assert operator[-1]["text"] == "Our team resumed this trade."


def test_a_payout_that_only_settled_debts_never_says_the_bank_received_money() -> None:
    events = _events(
        "received", "screening", "in_review", "verifying", "redeeming", "credited", "credited", "paid"
    )
    events[6]["note"] = "settled what another account of the same person owed after a reversal"
    events[7]["note"] = "settled against the amount owed after a reversal"
    told = [(s["step"], s["text"]) for s in story.story(events)]
    assert told[-2:] == [
        ("credited", "This payout settled what another account of yours owed after a reversal."),
        ("paid", "Your payout settled what you owed after a reversal; nothing was sent to your bank."),
    ]
    assert not any("received the money" in text or "appeal" in text for _, text in told)
