"""The sandbox store keeps one SQLite connection per thread, and its writes outlive a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import httpx

from tests.support.polling import poll_until
from tests.support.processes import CLI, free_port
from voucher_exchange.clock import SystemClock
from voucher_exchange.sandbox.store import SandboxStore, Voucher


def _voucher(code: str) -> Voucher:
    return Voucher(code, "1234", "cultureland", "KRW", 10000, 10000, "active", "2026-11-27", "card", None)


def test_one_connection_per_thread_reused_across_calls(tmp_path: Path) -> None:
    store = SandboxStore(tmp_path / "sandbox.db", SystemClock())
    with store._connect() as first, store._connect() as again:
        mine = (first, again)
    other: list[object] = []

    def in_another_thread() -> None:
        with store._connect() as db:
            other.append(db)

    worker = threading.Thread(target=in_another_thread)
    worker.start()
    worker.join()

    assert mine[0] is mine[1]
    assert other[0] is not mine[0]


def test_a_failed_write_leaves_the_thread_connection_usable(tmp_path: Path) -> None:
    store = SandboxStore(tmp_path / "sandbox.db", SystemClock())

    assert store.add_voucher(_voucher("A1")) is True
    assert store.add_voucher(_voucher("A1")) is False  # IntegrityError, rolled back
    assert store.add_voucher(_voucher("B2")) is True
    with store._connect() as db:
        assert not db.in_transaction
    assert [store.find_voucher(c) is not None for c in ("A1", "B2")] == [True, True]


def _serve(var_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VX_")} | {"VX_VAR_DIR": str(var_dir)}
    proc = subprocess.Popen([*CLI, "sandbox", "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}/sandbox/rail/transfers"

    def up() -> bool:
        assert proc.poll() is None, "the sandbox exited"
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    poll_until(up, timeout=60, interval=0.05, what="the sandbox to serve")
    return proc


def test_a_redemption_survives_a_sigkill(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/sandbox/issuer"
    first = _serve(tmp_path, port)
    try:
        minted = httpx.post(f"{base}/vouchers", json={"brand": "cultureland", "face_value": 10000}).json()
        redeemed = httpx.post(
            f"{base}/vouchers/redeem",
            json={"code": minted["code"], "pin": minted["pin"], "amount": 10000, "reference": "trade-9"},
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert redeemed.status_code == 200, redeemed.text

    second = _serve(tmp_path, port)
    try:
        looked = httpx.post(f"{base}/vouchers/lookup", json={"code": minted["code"], "pin": minted["pin"]})
    finally:
        second.terminate()
        second.wait(timeout=20)

    assert (looked.json()["state"], looked.json()["redeemed_by"]) == ("redeemed", "trade-9")
