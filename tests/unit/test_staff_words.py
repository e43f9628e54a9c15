"""Staff words: durations, amounts and moments per language; codes, notes and audit changes in words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from voucher_exchange.money import Money
from voucher_exchange.web import audit_words, staff_words

SEOUL = "Asia/Seoul"


@pytest.mark.parametrize(
    ("seconds", "ko", "en"),
    [
        (20, "1분 미만", "under a minute"),
        (180, "3분", "3 minutes"),
        (2 * 3600 + 5 * 60 + 59, "2시간 5분", "2 hours 5 minutes"),
        (3600, "1시간", "1 hour"),
        (26 * 3600 + 7 * 60, "1일 2시간", "1 day 2 hours"),
    ],
)
def test_durations_read_naturally(seconds: int, ko: str, en: str) -> None:
    assert staff_words.duration(seconds, "ko") == ko
    assert staff_words.duration(seconds, "en") == en


def test_amounts_in_korean_text_are_written_in_won() -> None:
    assert staff_words.money_text(Money(45500, "KRW"), "ko") == "45,500원"
    assert staff_words.money_text({"amount": 45500, "currency": "KRW"}, "en") == "₩45,500"
    assert staff_words.money_text(Money(2500, "USD"), "en") == "$25.00"


def test_moments_have_no_seconds() -> None:
    at = datetime(2026, 11, 27, 6, 27, 41, tzinfo=UTC)
    assert staff_words.moment(at, "ko", SEOUL) == "2026. 11. 27. 오후 3:27"
    assert staff_words.moment("2026-11-27T06:27:41Z", "en", SEOUL) == "Nov 27, 2026 3:27\u202fPM"


def test_codes_and_the_system_notes_are_translated_and_people_notes_are_left_as_written() -> None:
    assert staff_words.word(staff_words.REASON, "velocity", "ko") == "짧은 시간에 많은 판매"
    assert staff_words.word(staff_words.REASON, "a_new_rule", "ko") == "a_new_rule"
    assert staff_words.event_note("velocity, risk_score", "ko") == "짧은 시간에 많은 판매, 여러 위험 신호"
    assert staff_words.event_note("gave up after 8 attempts; an operator must look", "ko") == (
        "8번 시도 후 중단했습니다. 운영자 확인이 필요합니다"
    )
    assert (
        staff_words.event_note("reversed by the issuer: stolen", "en")
        == "Reversed by the issuer: reported stolen"
    )
    assert staff_words.event_note("영수증 확인함", "ko") == "영수증 확인함"
    # A note an earlier version stored as JSON escapes reads as Korean again.
    assert staff_words.event_note("\\uc601\\uc218\\uc99d", "ko") == "영수증"


def test_an_audit_change_reads_before_and_after_in_the_readers_language() -> None:
    status = {"before": {"status": "active"}, "after": {"status": "suspended"}}
    assert audit_words.audit_entry(status, "ko", "KRW") == {
        "changes": [("상태", "매입 중", "매입 정지")],
        "facts": [],
    }
    rates = {
        "before": {"version": 1, "bands": [{"min_face": 0, "rate_bps": 8900}]},
        "after": {
            "version": 2,
            "bands": [{"min_face": 0, "rate_bps": 8550}, {"min_face": 50000, "rate_bps": 9000}],
        },
    }
    assert audit_words.audit_entry(rates, "ko", "KRW")["changes"] == [
        ("버전", "v1", "v2"),
        ("시세", "0원부터 89%", "0원부터 85.5%; 50,000원부터 90%"),
    ]
    roles = {"before": {"roles": []}, "after": {"roles": ["reviewer"]}}
    assert audit_words.audit_entry(roles, "en", "KRW")["changes"] == [("Roles", "—", "Reviewer")]
    # Entries written before the change log kept both values: what is known is shown, in words.
    old = {"close_reason": "legitimate", "note": "\\uc2b9\\uc778", "amount": 2000000, "currency": "KRW"}
    assert audit_words.audit_entry(old, "ko", "KRW") == {
        "changes": [],
        "facts": [("금액", "2,000,000원", ""), ("종결 사유", "정상 거래", ""), ("메모", "승인", "")],
    }
