"""E-mail wording in both languages; the Korean catalogue covers every message; formatting per locale."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.pofile import read_po

from voucher_exchange import i18n
from voucher_exchange.money import Money
from voucher_exchange.notifications.service import compose
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
    assert subject == "입금 완료: ₩45,500을(를) 계좌로 보냈습니다"
    assert (
        body.splitlines()[0]
        == "컬쳐랜드 문화상품권(••••4821, 액면가 ₩50,000)의 대금 ₩45,500을(를) 계좌로 보냈습니다."
    )


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
