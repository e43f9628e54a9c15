"""Key rotation: after it, duplicates are still caught and stored accounts still pay out."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import database_url
from tests.support.assertions import reason_codes
from tests.support.cli import invoke_cli
from tests.support.exchange import make_seller, running_exchange
from tests.support.staff import PASSWORD as STAFF_PASSWORD
from tests.support.staff import bootstrap_staff
from voucher_exchange.accounts.models import Role

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]
PDF = b"%PDF-1.4\n% a passport scan\n" + bytes(range(256)) * 4


def test_rotation_keeps_every_secret_usable(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    url = database_url(request, backend, tmp_path, "vx_keys")
    with running_exchange(tmp_path, url) as exchange:
        seller = make_seller(exchange)
        voucher = exchange.mint()
        assert seller.api.wait_for(seller.sell(voucher))["status"] == "paid"
        # An ID document waiting for review: its encrypted file is re-encrypted too.
        upload = seller.api.http.post(
            "/me/identity/documents", data={"kind": "passport"}, files={"document": ("p.pdf", PDF)}
        )
        assert upload.status_code == 202, upload.text
        document_id = upload.json()["id"]
    document_file = tmp_path / "identity-documents" / f"{document_id}.enc"
    before_rotation = document_file.read_bytes()
    old_key = (tmp_path / "keys" / "master.key").read_bytes()
    new_key_file = tmp_path / "new.key"
    new_key_file.write_bytes(bytes(range(32)))

    env = {"VX_VAR_DIR": str(tmp_path)}
    refused = invoke_cli(tmp_path, "keys", "rotate", "--new-key", str(tmp_path / "keys" / "master.key"),
                      "--database-url", url, env=env)  # fmt: skip
    assert refused.returncode == 2 and "32 new random bytes" in refused.stderr
    rotated = invoke_cli(
        tmp_path, "keys", "rotate", "--new-key", str(new_key_file), "--database-url", url, env=env
    )
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "rotated 1 trades, 1 claims, 1 payout destinations, 1 ID documents" in rotated.stdout
    assert document_file.read_bytes() != before_rotation
    assert sorted(p.name for p in document_file.parent.iterdir()) == [document_file.name]
    assert (tmp_path / "keys" / "master.key").read_bytes() == bytes(range(32))
    assert (tmp_path / "keys" / "master.key.old").read_bytes() == old_key

    with running_exchange(tmp_path, url) as exchange:
        seller.api = exchange.client(seller.api.http.headers["Authorization"].removeprefix("Bearer "))
        again = make_seller(exchange)
        duplicate = again.api.wait_for(again.sell(voucher))
        assert reason_codes(duplicate) == ["duplicate_voucher"]
        fresh = seller.api.wait_for(seller.sell(exchange.mint()))
        assert fresh["status"] == "paid"
        assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [45500, 45500]
        reviewer = bootstrap_staff(exchange.ctx, Role.REVIEWER)
        token = exchange.client().post("/sessions", {"email": reviewer.email, "password": STAFF_PASSWORD})
        shown = exchange.client(token.json()["token"]).get(f"/review/identity-documents/{document_id}/file")
        assert (shown.status_code, shown.content) == (200, PDF)
