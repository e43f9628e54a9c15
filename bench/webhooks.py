"""Webhook delivery: latency from a trade's payment to the partner's receipt, and CPU per delivered event.

The embedded default (`serve --demo`'s shape): SQLite, the API and 2 worker threads in one
process, the sandboxes on their own server, the worker's production poll interval (0.2 s)
and lease. The partner is a separate process (its CPU is not counted), an HTTP server on
127.0.0.1 that notes each arrival's wall-clock time.

- latency: arrival time − the `trade.paid` event's `created_at` (the moment the trade became
  paid, in the same transaction), for `--trades` sales, 4 sellers selling at once (4 trades each);
- CPU per delivered event: this process's CPU time (all threads: claim, read, sign, POST,
  record, and the API request) during a replay of every event, divided by the events
  delivered.

    .venv/bin/python -m bench.webhooks --trades 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.exchange import Seller, make_seller, running_exchange
from tests.support.polling import poll_until

PARTNER = r"""
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
out = open(sys.argv[1], "a", buffering=1)
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        at = time.time()
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
        out.write(json.dumps({"at": at, "id": self.headers["webhook-id"], "body": body.decode()}) + "\n")
    def log_message(self, *a): pass
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


PER_SELLER = 4
ISSUED = "2026-01-02T00:00:00+00:00"


def _arrivals(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4, help="sellers selling at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp)
        log = var_dir / "arrivals.jsonl"
        log.touch()
        partner = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", PARTNER, str(log)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert partner.stdout is not None
            url = f"http://127.0.0.1:{partner.stdout.readline().strip()}/hooks"
            overrides = {
                "worker_poll_seconds": 0.2,
                "job_lease_seconds": 30.0,
                "webhook_timeout_seconds": 10.0,
            }
            db = f"sqlite:///{var_dir}/bench.db"
            with running_exchange(var_dir, db, worker_threads=2, **overrides) as exchange:
                # Four trades per seller: the fifth in an hour is held for review (velocity rule).
                sellers = [make_seller(exchange) for _ in range(-(-args.trades // PER_SELLER))]
                for seller in sellers:
                    made = seller.api.post("/webhook-endpoints", {"url": url, "events": ["trade.paid"]})
                    assert made.status_code == 201, made.text
                started = datetime.now(UTC)

                def sell(seller: Seller, count: int) -> None:
                    for _ in range(count):
                        voucher = exchange.mint(
                            "cultureland", 10000, issued_at=ISSUED
                        )  # not fresh: no review
                        trade_id = seller.sell(voucher, "cultureland", 10000)
                        status = seller.api.wait_for(trade_id, timeout=60)["status"]
                        assert status == "paid", f"a bench trade ended {status}"  # e.g. a velocity rule

                share = [min(PER_SELLER, args.trades - i * PER_SELLER) for i in range(len(sellers))]
                with ThreadPoolExecutor(args.concurrency) as pool:
                    list(pool.map(sell, sellers, share))
                poll_until(lambda: len(_arrivals(log)) >= args.trades or None, 60, what="every trade.paid")
                latencies = []
                for arrival in _arrivals(log):
                    event = json.loads(arrival["body"])
                    paid_at = datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))
                    latencies.append((arrival["at"] - paid_at.timestamp()) * 1000)

                before = len(_arrivals(log))
                cpu0, wall0 = time.process_time(), time.monotonic()
                for seller in sellers:
                    endpoint = seller.api.get("/webhook-endpoints").json()["endpoints"][0]
                    replayed = seller.api.post(
                        f"/webhook-endpoints/{endpoint['id']}/replay", {"since": started.isoformat()}
                    )
                    assert replayed.status_code == 202, replayed.text
                poll_until(
                    lambda: len(_arrivals(log)) >= before + args.trades or None, 120, what="the replay"
                )
                cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        finally:
            partner.terminate()
            partner.wait(timeout=10)
    print(f"trade.paid deliveries: {len(latencies)} (SQLite embedded, 2 worker threads, poll 0.2 s)")
    print(
        f"payment → arrival latency: p50 {statistics.median(latencies):.0f} ms, "
        f"p99 {_percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms"
    )
    print(
        f"replay of {args.trades} events: {wall:.2f} s wall, CPU {cpu * 1000 / args.trades:.2f} ms per delivered event"
    )


if __name__ == "__main__":
    main()
