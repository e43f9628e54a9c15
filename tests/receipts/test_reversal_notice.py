"""A reversed trade's receipt still verifies, and the verify page says the trade was reversed (issue 22, 6d).

The proof is a reversal notice the exchange signs with its receipt key: it verifies on its own,
on the page, with `receipt verify`, and against the published keys alone.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.receipts.test_receipts import _csrf, _keys, _paid_trade, _receipt
from tests.support.cli import invoke_cli
from tests.support.exchange import Exchange, Seller
from voucher_exchange.receipts.models import from_b64url, verify


def _verify(exchange: Exchange, pasted: str) -> httpx.Response:
    with httpx.Client(base_url=exchange.base_url, headers={"Accept-Language": "en"}, timeout=20) as anyone:
        return anyone.post("/receipts/verify", data={"csrf_token": _csrf(anyone), "receipt": pasted})


def _reversed(exchange: Exchange, seller: Seller) -> tuple[str, dict[str, Any]]:
    """A paid trade whose receipt was issued, then taken back by the issuer."""
    trade_id, voucher = _paid_trade(exchange, seller)
    document = _receipt(seller, trade_id)
    response = exchange.sandbox("POST", "/issuer/chargebacks", {"code": voucher["code"], "reason": "stolen"})
    assert response.status_code == 202, response.text
    assert seller.api.wait_for(trade_id, {"reversed"}, timeout=30)["status"] == "reversed"
    return trade_id, document


def test_the_verify_page_says_a_reversed_trade_was_reversed_with_a_notice_that_verifies_on_its_own(
    exchange: Exchange, seller: Seller, tmp_path: Path
) -> None:
    trade_id, document = _reversed(exchange, seller)
    reversed_at = seller.api.get(f"/trades/{trade_id}").json()["reversal"]

    answer = _verify(exchange, json.dumps(document, ensure_ascii=False, indent=2))

    assert answer.status_code == 200 and 'data-valid="true"' in answer.text  # the receipt itself is genuine
    assert 'data-reversed="true"' in answer.text
    assert "This trade was reversed on " in answer.text
    assert "The receipt is genuine, but the trade no longer stands." in answer.text
    found = re.search(r'<pre id="reversal-notice">(.*?)</pre>', answer.text, re.S)
    assert found is not None
    notice_text = html.unescape(found.group(1))
    notice = json.loads(notice_text)
    assert notice["key_id"] == document["key_id"]
    assert {
        k: v for k, v in notice["reversal_notice"].items() if k not in ("reversed_at", "reported_at")
    } == {
        "notice": "reversal",
        "version": 1,
        "trade_id": trade_id,
        "reason": "stolen",
        "seller_liable": True,
        "owed": {"amount": 45500, "currency": "KRW"},
    }
    assert reversed_at["reason"] == "stolen"

    # On its own: against the published keys alone, on the page, and on the command line.
    keys = {k["key_id"]: from_b64url(k["public_key"]) for k in _keys(exchange)}
    assert verify(notice, keys).valid
    pasted = _verify(exchange, notice_text)
    assert pasted.status_code == 200
    assert "Valid: this reversal notice was signed by this exchange. The trade it names was reversed." in (
        pasted.text
    )
    assert f'<dd id="verify-trade">{trade_id}</dd>' in pasted.text
    assert '<dd id="verify-owed">₩45,500</dd>' in pasted.text
    notice_file, keys_file = tmp_path / "notice.json", tmp_path / "keys.json"
    notice_file.write_text(notice_text, encoding="utf-8")
    keys_file.write_text(json.dumps({"keys": _keys(exchange)}), encoding="utf-8")
    done = invoke_cli(tmp_path, "receipt", "verify", str(notice_file), "--keys", str(keys_file))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"valid reversal notice: trade {trade_id} was reversed at ")

    # The seller's API answer carries the same notice beside the unchanged receipt.
    again = _receipt(seller, trade_id)
    assert {k: again[k] for k in ("receipt", "signature", "key_id")} == document
    assert again["reversed"] == notice
    assert _verify(exchange, json.dumps(again)).text.count('data-reversed="true"') == 1

    # Altered, or passed off as a receipt, it is refused.
    altered = json.loads(notice_text)
    altered["reversal_notice"]["owed"]["amount"] = 0
    assert _verify(exchange, json.dumps(altered)).status_code == 422
    disguised = {
        "receipt": notice["reversal_notice"],
        "signature": notice["signature"],
        "key_id": notice["key_id"],
    }
    assert verify(disguised, keys).code == "receipt_malformed"


def test_a_receipt_of_a_trade_still_paid_shows_no_reversal(exchange: Exchange, seller: Seller) -> None:
    trade_id, _ = _paid_trade(exchange, seller)

    document = _receipt(seller, trade_id)
    answer = _verify(exchange, json.dumps(document))

    assert sorted(document) == ["key_id", "receipt", "signature"]
    assert answer.status_code == 200 and 'id="verify-reversal"' not in answer.text
