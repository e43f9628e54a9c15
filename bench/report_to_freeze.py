"""Report-to-freeze time: from a fraud report's arrival to the hold or payout freeze it causes.

The embedded default (`serve --demo`'s shape): SQLite, the API and 2 worker threads in one
process, the worker's production poll interval (0.2 s), the sandboxes on their own server. For
each of `--reports` paid trades (4 sellers take turns) one report names its code over the API;
the case's `frozen_at - received_at` (what `fraud.service.figures` publishes) is the figure, and
the wall time from sending the report to seeing the case frozen is printed beside it.

    .venv/bin/python -m bench.report_to_freeze --reports 20
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.exchange import make_seller, running_exchange
from tests.support.polling import poll_until

from voucher_exchange.fraud import repository as fraud_repo
from voucher_exchange.fraud import service as fraud_service

ISSUED = "2026-01-02T00:00:00+00:00"
PER_SELLER = 4


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp)
        overrides = {"worker_poll_seconds": 0.2, "job_lease_seconds": 30.0}
        with running_exchange(
            var_dir, f"sqlite:///{var_dir}/bench.db", worker_threads=2, **overrides
        ) as exchange:
            sellers = [make_seller(exchange) for _ in range(-(-args.reports // PER_SELLER))]
            codes = []
            for i in range(args.reports):
                seller = sellers[i // PER_SELLER]
                voucher = exchange.mint("cultureland", 10000, issued_at=ISSUED)
                status = seller.api.wait_for(seller.sell(voucher, "cultureland", 10000), timeout=60)["status"]
                assert status == "paid", f"a bench trade ended {status}"
                codes.append(voucher["code"])
            started = datetime.now(UTC)
            walls = []
            for code in codes:
                sent = time.monotonic()
                answer = exchange.client().post(
                    "/fraud-reports",
                    {"codes": [code], "reporter": {"name": "bench", "contact": f"{code[-6:]}@example.com"},
                     "description": "bench"},
                )  # fmt: skip
                assert answer.status_code == 202, answer.text
                report_id = answer.json()["report_id"]

                def frozen(report_id: str = report_id) -> bool:
                    with exchange.ctx.uow(readonly=True) as uow:
                        return any(
                            c.report_id == report_id and c.frozen_at is not None
                            for c in fraud_repo.cases(uow.conn, 10_000)
                        )

                poll_until(frozen, 30, interval=0.005, what="the freeze")
                walls.append((time.monotonic() - sent) * 1000)
            with exchange.ctx.uow(readonly=True) as uow:
                spans = fraud_repo.freeze_spans(uow.conn, started, datetime.now(UTC) + timedelta(seconds=1))
                reports, _, median = fraud_service.figures(
                    uow.conn, started, datetime.now(UTC) + timedelta(seconds=1)
                )
    millis = sorted(s * 1000 for s in spans)
    print(
        f"fraud reports: {reports} (SQLite embedded, 2 worker threads, poll 0.2 s), each naming a paid trade"
    )
    print(
        f"report → freeze (frozen_at − received_at): median {statistics.median(millis):.0f} ms, "
        f"max {millis[-1]:.0f} ms; fraud.figures median {median * 1000 if median else 0:.0f} ms"
    )
    print(
        f"sent → seen frozen (wall, client side): median {statistics.median(walls):.0f} ms, max {max(walls):.0f} ms"
    )


if __name__ == "__main__":
    main()
