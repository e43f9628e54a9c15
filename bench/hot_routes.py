"""Server CPU per request of the hot API routes, against `serve --demo` (bench/embedded.py's server).

One seller signs up and has a trade held for review (not measured); then, from one keep-alive
client, back to back: conditional `GET /trades/{id}` answered 304, plain `GET /trades/{id}`,
`POST /quotes` (another seller, on its own address), and `GET /healthz` (the HTTP stack with
a thread hop and no database, for scale). Each figure is the server process's CPU (/proc)
per request, less the idle rate measured first.

    .venv/bin/python -m bench.hot_routes --requests 1000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench import embedded, generator
from bench.measure import machine


def _cost(server: embedded.Server, idle: float, send: Callable[[], httpx.Response], n: int) -> float:
    """CPU ms per request of `send`, less the idle rate (50 sent first, not counted)."""
    for _ in range(50):
        send()
    wall, cpu = time.monotonic(), server.cpu()
    for _ in range(n):
        send()
    elapsed = time.monotonic() - wall
    return ((server.cpu() - cpu) - idle * elapsed) * 1000 / n


def run(requests: int) -> dict[str, float]:
    """Start the server, prepare, measure; CPU ms per request by route, and the idle rate (ms/s)."""
    with tempfile.TemporaryDirectory(prefix="vx-hot-") as tmp:
        server = embedded.start(Path(tmp))
        clients = generator.Clients()
        try:
            made = generator.setup(
                {"apis": [server.url], "sandbox": server.sandbox, "sellers": 2, "vouchers": 0},
                clients,
                lambda _n: None,
            )
            held, quoting = made["sellers"]
            trade_id, headers = embedded._held_trade(server, clients, held)
            http = clients.get(server.api)
            time.sleep(2.0)  # the hand-off's jobs settle
            wall, cpu = time.monotonic(), server.cpu()
            time.sleep(5.0)
            idle = (server.cpu() - cpu) / (time.monotonic() - wall)
            tag = http.get(f"/trades/{trade_id}", headers=headers).headers["ETag"]
            conditional = {**headers, "If-None-Match": tag}
            if http.get(f"/trades/{trade_id}", headers=conditional).status_code != 304:
                raise RuntimeError("the conditional GET was not answered 304")
            quote_headers = {"Authorization": f"Bearer {quoting['token']}", "X-Forwarded-For": quoting["ip"]}
            root = clients.get(server.url)
            return {
                "conditional": _cost(
                    server, idle, lambda: http.get(f"/trades/{trade_id}", headers=conditional), requests
                ),
                "plain": _cost(
                    server, idle, lambda: http.get(f"/trades/{trade_id}", headers=headers), requests
                ),
                "quote": _cost(
                    server,
                    idle,
                    lambda: http.post("/quotes", json=generator.QUOTE_BODY, headers=quote_headers),
                    requests,
                ),
                "healthz": _cost(server, idle, lambda: root.get("/healthz"), requests),
                "idle_ms_per_s": idle * 1000,
            }
        finally:
            clients.close()
            embedded.stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per route (default 1000)")
    args = parser.parse_args()
    r = run(args.requests)
    m = machine()
    load = os.getloadavg()
    print(f"Measured {m.date} on {m.cores} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print(
        f"server CPU per request (less the idle rate, {r['idle_ms_per_s']:.1f} ms/s), {args.requests} each:"
    )
    print(f"  GET /trades/{{id}} with If-None-Match (304): {r['conditional']:.2f} ms")
    print(f"  GET /trades/{{id}} (200):                    {r['plain']:.2f} ms")
    print(f"  POST /quotes (201):                         {r['quote']:.2f} ms")
    print(f"  GET /healthz (the HTTP stack, a thread hop): {r['healthz']:.2f} ms")


if __name__ == "__main__":
    main()
