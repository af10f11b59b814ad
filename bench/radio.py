"""Benchmark 7: radio budget of the default schedule (ARIB STD-T108: 360 s of transmit time per hour).

What ``smartmeter-logger run`` builds, on a VirtualClock, no faults. The simulator accounts
every transmission of the dongle (``DongleSim.airtime_ms_total``: (payload + 56 bytes) x 8 /
100 kbps + 5 ms CCA/ACK per frame; ``duty_share(now)`` over the sliding hour). Measured over
hours 1..N after a cold start (the first hour, with scan/join/backfill, reported apart), with the
default batching (session.max_epcs_per_get 6) and with one EPC per request (max_epcs_per_get 1).

Usage: python bench/radio.py [--hours 6] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    DAY0,
    Row,
    fmt,
    make_app,
    quiet_logs,
    run_without_shutdown,
    summary,
    write_result,
)

from logger.clock import VirtualClock
from logger.simulate.embedded import build_simulation

CAP_S = 360.0
CMD = "python bench/radio.py"


def measure(hours: int, settings_yaml: str, seed: int = 0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        start = DAY0 + 6 * 3600 - 30
        clock = VirtualClock(start)
        sim = build_simulation(clock, "bp35a1", seed=seed, record_sent=True)
        app, probe = make_app(Path(tmp), clock, sim, settings_yaml)
        first_hour_end = DAY0 + 7 * 3600
        run_without_shutdown(app, first_hour_end)  # one continuous run: no stop/start between hours
        ms0 = sim.dongle.airtime_ms_total
        first = ms0 / 1000.0
        sends0 = len(sim.commands(b"SKSENDTO"))
        per_hour, shares = [], []
        for h in range(hours):
            before = sim.dongle.airtime_ms_total
            run_without_shutdown(app, first_hour_end + 3600 * (h + 1))
            per_hour.append((sim.dongle.airtime_ms_total - before) / 1000.0)
            shares.append(sim.dongle.duty_share(clock.time()) * 3600 / CAP_S * 100)
        sends = len(sim.commands(b"SKSENDTO")) - sends0
        readings = sum(1 for t, r in probe.rows if t >= first_hour_end)
        return {"first_hour_s": first, "per_hour_s": per_hour, "share_of_cap_pct": shares,
                "sends_per_hour": sends / hours, "readings_per_hour": readings / hours}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=int, default=6)
    ap.add_argument("--out", default="bench/out/radio.json")
    args = ap.parse_args()
    quiet_logs()
    batched = measure(args.hours, "{}")
    single = measure(args.hours, "session: {max_epcs_per_get: 1}")
    b = summary([x / CAP_S * 100 for x in batched["per_hour_s"]])
    s = summary([x / CAP_S * 100 for x in single["per_hour_s"]])
    saved = 1 - sum(batched["per_hour_s"]) / sum(single["per_hour_s"])
    rows = [
        Row(
            "7. Radio budget: default schedule's share of the ARIB limit (360 s/h)",
            "info (lower is better)",
            f"{fmt(b, '%', 2)} per hour = {sum(batched['per_hour_s']) / args.hours:.1f} s/h of transmit time, "
            f"{batched['sends_per_hour']:.0f} frames/h; first hour incl. scan/join/backfill "
            f"{batched['first_hour_s']:.1f} s ({batched['first_hour_s'] / CAP_S * 100:.2f} %)",
            "info",
            f"{CMD} --hours {args.hours}  (virtual clock, simulator airtime accounting, hours 1..{args.hours})",
        ),
        Row(
            "7. Radio budget: batching (max_epcs_per_get 6) against one EPC per request",
            "info",
            f"one EPC per request: {fmt(s, '%', 2)} of the cap, {single['sends_per_hour']:.0f} frames/h; batching "
            f"saves {saved * 100:.1f} % of transmit time ({sum(single['per_hour_s']) / args.hours:.1f} → "
            f"{sum(batched['per_hour_s']) / args.hours:.1f} s/h)",
            "info",
            f"{CMD} --hours {args.hours}",
        ),
    ]
    write_result(args.out, "radio", rows, {"batched": batched, "single": single, "saved": saved})
    for r in rows:
        print(f"{r.measure}: {r.result} [{r.verdict}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
