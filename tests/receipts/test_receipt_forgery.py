"""A pasted receipt is checked as written: no key twice, no value written another way (issue 22, item 6c).

A forger puts a `payout` of their choosing first and the genuine one last: a reader (or a
parser keeping the first) sees the forgery, the signature check (keeping the last) passes.
Over real HTTP on the verify page, and with `voucher-exchange receipt verify`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.receipts.test_receipts import _csrf, _keys, _paid_trade, _receipt
from tests.support.cli import invoke_cli
from tests.support.exchange import Exchange, Seller

FORGED_PAYOUT = '"payout":{"amount":4550000,"currency":"KRW"},'
DUPLICATE = (
    "Invalid: the document names the same field twice. A genuine receipt never does; "
    "someone may have added a forged value."
)
NOT_CANONICAL = (
    "Invalid: a value is not written the way the exchange writes it. "
    "Paste the file exactly as you downloaded it."
)


def _with_forged_payout_first(document: dict[str, Any]) -> str:
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.replace('"receipt":{', '"receipt":{' + FORGED_PAYOUT, 1)


def _verify(exchange: Exchange, pasted: str) -> httpx.Response:
    with httpx.Client(base_url=exchange.base_url, headers={"Accept-Language": "en"}, timeout=20) as anyone:
        return anyone.post("/receipts/verify", data={"csrf_token": _csrf(anyone), "receipt": pasted})


def test_a_receipt_naming_payout_twice_is_refused_on_the_verify_page(
    exchange: Exchange, seller: Seller
) -> None:
    trade_id, _ = _paid_trade(exchange, seller)
    document = _receipt(seller, trade_id)
    pasted = _with_forged_payout_first(document)
    assert json.loads(pasted) == document  # the last `payout` wins: the signature alone would pass

    answer = _verify(exchange, pasted)

    assert answer.status_code == 422
    assert 'data-valid="false"' in answer.text and DUPLICATE in answer.text
    assert 'id="verify-trade"' not in answer.text and 'id="verify-payout"' not in answer.text


def test_a_receipt_with_a_value_written_another_way_is_refused(exchange: Exchange, seller: Seller) -> None:
    trade_id, _ = _paid_trade(exchange, seller)
    document = _receipt(seller, trade_id)
    written = json.dumps(document, ensure_ascii=False, indent=2)
    escaped = written.replace('"trade_id"', '"\\u0074rade_id"', 1)
    assert json.loads(escaped) == document

    answers = [_verify(exchange, text) for text in (escaped, written, json.dumps(document))]

    assert [a.status_code for a in answers] == [422, 200, 200]
    assert NOT_CANONICAL in answers[0].text and 'id="verify-trade"' not in answers[0].text
    # Indented, or with Korean written as \\u escapes (json.dumps' default): still the same receipt.
    assert all(f'<dd id="verify-trade">{trade_id}</dd>' in a.text for a in answers[1:])


def test_receipt_verify_refuses_a_duplicated_key_on_the_command_line(
    exchange: Exchange, seller: Seller, tmp_path: Path
) -> None:
    trade_id, _ = _paid_trade(exchange, seller)
    document = _receipt(seller, trade_id)
    forged_file, keys_file = tmp_path / "forged.json", tmp_path / "keys.json"
    forged_file.write_text(_with_forged_payout_first(document), encoding="utf-8")
    keys_file.write_text(json.dumps({"keys": _keys(exchange)}), encoding="utf-8")

    done = invoke_cli(tmp_path, "receipt", "verify", str(forged_file), "--keys", str(keys_file))

    assert done.returncode == 1
    assert " ".join(done.stdout.split()) == (
        "invalid (receipt_duplicate_key): The document names 'payout' twice. A reader may see the first "
        "and a checker the last: a genuine receipt never does this."
    )
