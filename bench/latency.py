"""Benchmark 6: reading → queryable in InfluxDB, direct sink and via Telegraf, real time.

One ``smartmeter-logger run --simulate`` (real clock, default schedule, E7 every 10 s) with
both sinks on: the InfluxDB sink (influxdb.enabled, default batch_size and
flush_interval_s) writing to bucket ``direct``, and the CSV files tailed by the compose
``telegraf`` service (project telegraf.conf) writing to bucket ``telegraf``, on one real
influxd. Both buckets are polled every 0.25 s with a Flux query for the E7 points of the
last minutes; latency of a reading = wall time of the first poll that returns it minus its
timestamp (the time the logger took the reading). Resolution: the poll interval plus one
query (~0.3 s).

Via Telegraf the figure depends on where Telegraf's 10 s flush falls against the logger's
10 s E7 grid: a reading waits for the next flush, from ~0 s (flush just after the reading)
to ~10 s (just before). One Telegraf start samples one phase, so the run is split into
``--rounds`` rounds, each with Telegraf (re)started at a random phase of the 10 s grid; only
readings taken after Telegraf's start in their round count (the ones it catches up on after a
restart would measure the restart, not the pipeline), and not in the first 10 s after it started
(Telegraf discovers files every 10 s). Per-round medians and phases are kept.

Usage: python bench/latency.py [--seconds 300] [--rounds 6] [--seed 0] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Row,
    fmt,
    make_telegraf,
    start_influxd,
    summary,
    verdict,
    write_result,
)

CMD = "python bench/latency.py"
#: Telegraf looks for new files every 10 s (telegraf.conf ``interval``): readings in the first
#: 10 s after a (re)start wait for that discovery too, which a running pipeline never does.
WARMUP_S = 10.0


def cli() -> list[str]:
    exe = shutil.which("smartmeter-logger")
    return [exe] if exe else [sys.executable, "-m", "logger"]


def e7_times(server, bucket: str) -> set[float]:
    rows = server.query(
        f'from(bucket: "{bucket}") |> range(start: -10m) '
        '|> filter(fn: (r) => r._measurement == "smartmeter" and r.epc == "E7") |> keep(columns: ["_time"])'
    )
    return {r["_time"].timestamp() for r in rows}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--rounds", type=int, default=6, help="Telegraf starts at random flush phases")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/out/latency.json")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    server = tg = proc = None
    seen: dict[str, dict[float, float]] = {"direct": {}, "telegraf": {}}
    rounds: list[dict] = []
    telegraf_lat: list[float] = []
    try:
        server = start_influxd(tmp / "influxd")
        for b in seen:
            server.create_bucket(b)
        data, state = tmp / "data", tmp / "state"
        data.mkdir()
        (tmp / "tgstate").mkdir()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "LANG": "C.UTF-8", "CSV_DIR": str(data),
               "STATE_DIR": str(state), "INFLUXDB_ENABLED": "true", "INFLUXDB_URL": server.url,
               "INFLUXDB_TOKEN": server.token, "INFLUXDB_ORG": server.org, "INFLUXDB_BUCKET": "direct"}
        proc = subprocess.Popen(cli() + ["run", "--simulate"], cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                stderr=open(tmp / "logger.log", "wb"))  # noqa: SIM115

        def poll_until(deadline: float) -> None:
            """Poll both buckets every 0.25 s until ``deadline`` (monotonic)."""
            while time.monotonic() < deadline:
                for b, known in seen.items():
                    now = time.time()
                    for t in e7_times(server, b):
                        if t not in known:
                            known[t] = now - t
                time.sleep(0.25)

        per_round = args.seconds / max(1, args.rounds)
        for k in range(max(1, args.rounds)):
            phase = rng.uniform(0.0, 10.0)  # seconds after a multiple of 10 s (the E7 grid)
            poll_until(time.monotonic() + (phase - time.time() % 10.0) % 10.0)  # keep measuring meanwhile
            started = time.time()
            tg = make_telegraf(server, "telegraf", data, tmp / "tgstate", tmp / f"telegraf-{k}")
            tg.start()
            before = set(seen["telegraf"])
            poll_until(time.monotonic() + per_round)
            # what Telegraf delivered while it ran, for readings taken after it started (not what it
            # caught up on after the restart, nor what its stop flushes: those measure the restart)
            mine = [v for t, v in seen["telegraf"].items() if t not in before and t >= started + WARMUP_S]
            telegraf_lat.extend(mine)
            tg.stop()
            tg = None
            rounds.append({"phase_s": round(phase, 2), "telegraf_started": started, "latencies": mine})
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        if tg is not None:
            tg.stop()
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    lat = {"direct": list(seen["direct"].values()), "telegraf": telegraf_lat}
    from logger.config import load_settings

    defaults = load_settings(Path(__file__).resolve().parents[1] / "config" / "settings.yml", env={}, dotenv=None,
                             check_dirs=False).influxdb
    sd, st = summary(lat["direct"]), summary(lat["telegraf"])
    medians = [summary(r["latencies"]) for r in rounds]
    per_round = "; ".join(f"phase {r['phase_s']:.1f} s: {m['median']:.1f} s" for r, m in zip(rounds, medians)
                          if m.get("n"))
    rows = [
        Row(
            "6. Reading → queryable in InfluxDB, direct sink (influxdb.enabled; defaults flush_interval_s "
            f"{defaults.flush_interval_s:g}, batch_size {defaults.batch_size}: a new reading is sent in the loop "
            "iteration that recorded it when the previous request is flush_interval_s old)",
            "≤ 2 s",
            f"{fmt(sd, 's', 2)}",
            verdict(bool(sd.get("n")) and sd["max"] <= 2.0),
            f"{CMD} --seconds {args.seconds:.0f}  (real clock; polled every 0.25 s)",
        ),
        Row(
            "6. Reading → queryable in InfluxDB via Telegraf tailing the CSV (project telegraf.conf)",
            "≤ 15 s",
            f"{fmt(st, 's', 2)} over {len(rounds)} Telegraf starts at random phases of the 10 s grid (the figure "
            f"is where Telegraf's 10 s flush falls after the reading: 0-10 s; readings in the first "
            f"{WARMUP_S:.0f} s after each start left out); per round (phase → median): {per_round}",
            verdict(bool(st.get("n")) and st["max"] <= 15.0),
            f"{CMD} --seconds {args.seconds:.0f} --rounds {args.rounds} --seed {args.seed}",
        ),
    ]
    write_result(args.out, "latency", rows, {"latency_s": lat, "rounds": rounds})
    for r in rows:
        print(f"{r.measure}: {r.result} [{r.verdict}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
