"""E-mail wording in both languages; the Korean catalogue covers every message; formatting per locale."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from voucher_exchange import i18n, korean
from voucher_exchange.errors import InvalidInput
from voucher_exchange.money import Money
from voucher_exchange.notifications.service import compose, compose_batch
from voucher_exchange.web.forms import parse_amount, parse_percent_bps

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "src/voucher_exchange/locale/ko/LC_MESSAGES/messages.po"


def _trade(status: str) -> dict[str, object]:
    return {
        "status": status,
        "voucher": {"masked": "••••4821"},
        "payout": {"amount": 45500, "currency": "KRW"},
        "face_value": {"amount": 50000, "currency": "KRW"},
        "decision": {"outcome": "reject", "reasons": [{"code": "x", "message": "The reason, in words."}]}
        if status == "rejected"
        else None,
    }


def test_a_paid_e_mail_in_english_and_korean() -> None:
    subject, body = compose(_trade("paid"), "Cultureland Gift Voucher", "en", "http://site/trades/t1")
    assert subject == "Paid: ₩45,500 is on its way to your bank"
    assert body.splitlines()[0] == (
        "We sent ₩45,500 for your Cultureland Gift Voucher (••••4821, face value ₩50,000) "
        "to your bank account."
    )
    assert "Follow your trade: http://site/trades/t1" in body
    subject, body = compose(_trade("paid"), "컬쳐랜드 문화상품권", "ko", "http://site/trades/t1")
    assert subject == "입금 완료: 45,500원을 계좌로 보냈습니다"
    assert (
        body.splitlines()[0]
        == "컬쳐랜드 문화상품권(••••4821, 액면가 50,000원)의 대금 45,500원을 계좌로 보냈습니다."
    )
    subject, body = compose(_trade("in_review"), "구글 기프트카드", "ko", "http://site/trades/t1")
    assert subject == "구글 기프트카드를 확인하고 있습니다"
    subject, body = compose(_trade("in_review"), "신세계 모바일 상품권", "ko", "http://site/trades/t1")
    assert subject == "신세계 모바일 상품권을 확인하고 있습니다"


def test_a_refusal_e_mail_carries_the_reasons() -> None:
    subject, body = compose(_trade("rejected"), "Cultureland Gift Voucher", "en", "http://site/trades/t1")
    assert subject == "We could not buy your Cultureland Gift Voucher"
    assert "• The reason, in words." in body


def test_every_message_of_the_code_and_templates_has_a_korean_translation(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
         "-k", "N_", "-k", "gettext:2", "-o", str(pot), str(ROOT / "src/voucher_exchange")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    wanted = {m.id for m in read_po(pot.open("rb")) if m.id}
    catalogue = {m.id: m.string for m in read_po(PO.open("rb")) if m.id}
    assert len(wanted) > 250
    assert sorted(wanted - catalogue.keys()) == []
    assert sorted(k for k, v in catalogue.items() if not v) == []


def test_money_dates_and_rates_follow_the_locale() -> None:
    assert i18n.format_money(Money(2550, "USD"), "en") == "$25.50"
    assert i18n.format_money(Money(50000, "KRW"), "ko") == "₩50,000"
    assert i18n.format_bps(9150, "en") == "91.5%"
    moment = datetime(2026, 11, 27, 6, 30, tzinfo=UTC)
    assert i18n.format_when(moment, "en", "Asia/Seoul") == "Nov 27, 2026, 3:30:00\u202fPM"
    assert i18n.format_when(moment, "ko", "Asia/Seoul") == "2026. 11. 27. 오후 3:30:00"


def test_a_long_run_of_digits_cannot_make_the_korean_amount_pattern_backtrack() -> None:
    # Before the fix each extra digit cost ~2.4x: 59 digits took hours (a denial of service on `/`).
    for text in ("1" * 59 + "x", "1" * 57 + "만x", "1" * 40 + "만", "9" * 60):
        assert korean.korean_number(text) is None
        with pytest.raises(InvalidInput):
            parse_amount(text, "KRW")
    assert korean.korean_number("1억2천만") == 120_000_000


def test_amounts_typed_by_people_become_minor_units() -> None:
    assert parse_amount(" 50,000 ", "KRW") == Money(50000, "KRW")
    assert parse_amount("$25.50", "USD") == Money(2550, "USD")
    for bad in ("", "abc", "0", "-5", "1.5", "NaN", "1e30"):
        try:
            parse_amount(bad, "KRW")
        except Exception as exc:
            assert getattr(exc, "code", None) == "amount_invalid", bad
        else:
            raise AssertionError(bad)
    assert parse_percent_bps("91.5") == 9150
    assert parse_percent_bps("85.55%") == 8555


_HEDGES = ("을(를)", "를(을)", "은(는)", "는(은)", "이(가)", "가(이)", "(으)로", "과(와)", "와(과)")
_HANGUL = re.compile("[\uac00-\ud7a3]")
# Messages whose Korean is rightly the English: abbreviations and symbols with no Korean word.
_SAME_IN_BOTH = {"PIN", "CSV", "API", "KYC", "OK", "TOTP", "URL"}


def test_no_korean_page_or_e_mail_hedges_a_particle_or_stays_english() -> None:
    catalogue = [m for m in read_po(PO.open("rb")) if m.id]
    hedged = [m.string for m in catalogue if any(h in str(m.string) for h in _HEDGES)]
    assert hedged == []
    templates = ROOT / "src/voucher_exchange/web/templates"
    in_templates = [
        str(p.relative_to(templates))
        for p in sorted(templates.rglob("*.html"))
        if any(h in p.read_text(encoding="utf-8") for h in _HEDGES)
    ]
    assert in_templates == []
    english_only = [
        m.id
        for m in catalogue
        if m.id not in _SAME_IN_BOTH
        and re.search("[A-Za-z]{2}", str(m.id))
        and not _HANGUL.search(str(m.string))
    ]
    assert english_only == []


@pytest.mark.parametrize(
    ("word", "form", "expected"),
    [
        ("컬쳐랜드", "을", "를"),
        ("신한은행", "을", "을"),
        ("카카오뱅크", "으로", "로"),
        ("서울", "으로", "로"),
        ("부산", "으로", "으로"),
        ("45,500원", "이", "이"),
        ("토스뱅크", "이", "가"),
        ("홍길동", "은", "은"),
        ("김민지", "은", "는"),
        ("Steam", "을", "을"),
        ("Apple", "을", "을"),
        ("Google Play", "과", "와"),
        ("구글 기프트카드 (KR)", "를", "를"),
        ("$25.00", "을", "를"),
        ("7", "으로", "로"),
        ("3", "으로", "으로"),
        ("", "을", "를"),
    ],
)
def test_a_particle_agrees_with_the_word_before_it(word: str, form: str, expected: str) -> None:
    assert korean.particle(word, form) == expected


def test_only_marked_values_have_their_particles_resolved() -> None:
    text = f"마을에서 카카오뱅크{korean.MARK}으로 {korean.MARK}이 보냈어요 김민지{korean.MARK}이"
    assert korean.resolve(text) == "마을에서 카카오뱅크로 가 보냈어요 김민지가"


def test_amounts_typed_the_korean_way() -> None:
    for typed in (
        "50,000원",
        "5만원",
        "5만 원",
        "₩50,000",
        "50000",
        " 50 000 ",
        "５"[:0] + "50000원",
        "KRW50000"[3:],
    ):
        assert parse_amount(typed, "KRW") == Money(50000, "KRW"), typed
    assert parse_amount("5만 5천원", "KRW") == Money(55000, "KRW")
    assert parse_amount("1.5만", "KRW") == Money(15000, "KRW")
    assert parse_amount("천원", "KRW") == Money(1000, "KRW")
    assert parse_amount("1억2천만원", "KRW") == Money(120_000_000, "KRW")
    for bad in ("1e999999999", "sNaN", "Infinity", "5만.5", "만원만원만원" * 20, "9" * 10_000, "1.2345원"):
        with pytest.raises(InvalidInput) as refused:
            parse_amount(bad, "KRW")
        assert refused.value.code == "amount_invalid"


@given(st.text(max_size=80))
def test_the_amount_parser_never_raises_anything_but_a_field_error(typed: str) -> None:
    for currency in ("KRW", "USD"):
        try:
            parse_amount(typed, currency)
        except InvalidInput as exc:
            assert exc.code == "amount_invalid"


@given(st.from_regex(r"[0-9만천백십억 ,.원₩]{0,30}", fullmatch=True))
def test_korean_style_amounts_never_raise_anything_but_a_field_error(typed: str) -> None:
    try:
        money = parse_amount(typed, "KRW")
    except InvalidInput as exc:
        assert exc.code == "amount_invalid"
    else:
        assert money.amount > 0


def test_amounts_in_korean_sentences_are_written_in_won() -> None:
    assert i18n.format_amount_text(Money(45500, "KRW"), "ko") == "45,500원"
    assert i18n.format_amount_text(Money(45500, "KRW"), "en") == "₩45,500"
    assert i18n.format_amount_text(Money(2550, "USD"), "ko") == "US$25.50"
    moment = datetime(2026, 11, 27, 6, 30, 59, tzinfo=UTC)
    assert i18n.format_minute(moment, "ko", "Asia/Seoul") == "2026. 11. 27. 오후 3:30"
    assert i18n.format_minute(moment, "en", "Asia/Seoul") == "Nov 27, 2026, 3:30 PM"


def test_a_batch_summary_in_korean_and_english() -> None:
    counts = {"paid": 2, "refused": 1, "in_review": 1}
    subject, body = compose_batch(counts, Money(9000, "KRW"), "ko", "http://site/sell/batch/b1", 25)
    assert subject == "상품권 4건: 입금 2건, 확인 중 1건, 매입 안 됨 1건"
    assert body.splitlines()[:3] == [
        "입금 2건: 9,000원을 계좌로 보냈습니다.",
        "담당자 확인 중 1건: 상품권에서는 아직 아무것도 빠져나가지 않았습니다. "
        "확인은 보통 25분쯤 걸리며, 결과는 건마다 메일로 알려 드립니다.",
        "매입 안 됨 1건: 지급도 수수료도 없습니다.",
    ]
    subject, body = compose_batch(counts, Money(9000, "KRW"), "en", "http://site/sell/batch/b1", 25)
    assert subject == "Your 4 vouchers: 2 paid, 1 being checked, 1 not bought"
    assert body.splitlines()[0] == "Paid: 2. We sent ₩9,000 to your bank account."
    assert "See every line: http://site/sell/batch/b1" in body


def test_a_batch_summary_with_every_line_held_says_nothing_of_payments() -> None:
    subject, body = compose_batch({"in_review": 10}, Money(0, "KRW"), "ko", "http://site/sell/batch/b1", 40)
    assert subject == "상품권 10건: 확인 중 10건"
    assert not re.search(r"(?<![0-9,])0(원|건)", subject + body) and "보냈습니다" not in body
    assert "40분" in body


def test_a_batch_whose_paid_lines_all_settled_a_debt_never_says_money_was_sent() -> None:
    subject, body = compose_batch({"paid": 2}, Money(0, "KRW"), "ko", "http://site/sell/batch/b1", 25)
    assert subject == "상품권 2건: 입금 2건"
    settled = "정산 2건: 반환하실 금액을 갚는 데 모두 쓰여 계좌로 보낸 돈은 없습니다."
    assert body.splitlines()[0] == settled
    assert not re.search(r"(?<![0-9,])0원", body) and "보냈습니다" not in body
    _, english = compose_batch({"paid": 2}, Money(0, "KRW"), "en", "http://site/sell/batch/b1", 25)
    assert english.splitlines()[0] == (
        "Paid: 2. It settled what you owed after a reversal, so nothing was sent to your bank account."
    )


def test_a_paid_e_mail_says_what_reached_the_bank_when_a_debt_took_part_or_all() -> None:
    netted = {**_trade("paid"), "sent_to_bank": {"amount": 0, "currency": "KRW"}}
    subject, body = compose(netted, "Cultureland Gift Voucher", "en", "http://site/trades/t1")
    assert subject == "Settled: your Cultureland Gift Voucher paid what you owed after a reversal"
    assert body.splitlines()[0] == (
        "The payout for your Cultureland Gift Voucher (••••4821, face value ₩50,000), ₩45,500, settled"
        " what you owed after a reversal. Nothing was sent to your bank account."
    )
    assert "We sent" not in body and "on its way" not in subject
    part = {**_trade("paid"), "sent_to_bank": {"amount": 30000, "currency": "KRW"}}
    subject, body = compose(part, "컬쳐랜드 문화상품권", "ko", "http://site/trades/t1")
    assert subject == "입금: 30,000원을 계좌로 보냈습니다"
    assert body.splitlines()[0] == (
        "컬쳐랜드 문화상품권(••••4821, 액면가 50,000원)의 대금 중 30,000원을 계좌로 보냈고,"
        " 45,500원 중 나머지는 환수 후 갚으실 금액 정산에 쓰였습니다."
    )
    whole = {**_trade("paid"), "sent_to_bank": {"amount": 45500, "currency": "KRW"}}
    assert (
        compose(whole, "Cultureland Gift Voucher", "en", "x")[0] == "Paid: ₩45,500 is on its way to your bank"
    )
