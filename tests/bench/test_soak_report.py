"""The soak's flat-memory verdict: which samples it judges and what it calls flat (no soak run)."""

from __future__ import annotations

from pathlib import Path

from bench.soak_report import Run, Sample, judge, verdicts, window, write_png


def _run(rss: list[float], every: int = 1000, target: int = 20_000) -> Run:
    run = Run("embedded default", "1 serve", target, 15.0, minutes_used=12.5)
    run.samples = [
        Sample(trades=(n + 1) * every, seconds=30.0, cpu_ms={"serve": 20.0}, rss_mb={"serve": mb})
        for n, mb in enumerate(rss)
    ]
    return run


def test_the_window_is_the_last_10000_trades_with_its_starting_sample() -> None:
    run = _run([150.0 + n for n in range(20)])

    assert [s.trades for s in window(run)] == list(range(10_000, 20_001, 1000))


def test_a_shorter_run_is_judged_over_its_last_half_and_says_so() -> None:
    run = _run([150.0, 160.0, 170.0, 171.0, 172.0, 173.0])

    assert [s.trades for s in window(run)] == [3000, 4000, 5000, 6000]
    assert verdicts([run])[0] == (
        "embedded default: RSS over trades 3,000 → 6,000"
        " (shorter than the acceptance's 10,000: the run reached 6,000)"
    )


def test_growth_of_five_percent_passes_and_more_fails() -> None:
    flat = judge(_run([100.0] * 9 + [200.0] * 10 + [210.0]))[0]
    grown = judge(_run([100.0] * 9 + [200.0] * 10 + [210.2]))[0]

    assert (flat.start_mb, flat.low_mb, flat.high_mb, flat.end_mb) == (200.0, 200.0, 210.0, 210.0)
    assert flat.passed
    assert round(grown.worst, 4) == 0.051
    assert not grown.passed
    assert verdicts([_run([100.0] * 9 + [200.0] * 10 + [210.2])])[1] == (
        "  FAIL serve      start  200.0 MB, low  200.0, high  210.2, end  210.2  worst +5.1% (limit ±5%)"
    )


def test_a_fall_counts_as_much_as_a_rise() -> None:
    verdict = judge(_run([200.0] * 10 + [200.0] * 5 + [188.0] * 5))[0]

    assert round(verdict.worst, 3) == -0.06
    assert not verdict.passed


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "soak.png"

    write_png([_run([150.0 + n for n in range(4)])], path, "2026-12-07 12:00 UTC")

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
