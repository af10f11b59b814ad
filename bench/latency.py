"""Benchmark 6: reading → queryable in InfluxDB, direct sink and via Telegraf, real time.

One ``smartmeter-logger run --simulate`` (real clock, default schedule, E7 every 10 s) with
both sinks on: the InfluxDB sink (influxdb.enabled, default batch_size and
flush_interval_s) writing to bucket ``direct``, and the CSV files tailed by the compose
``telegraf`` service (project telegraf.conf) writing to bucket ``telegraf``, on one real
influxd. Both buckets are polled every 0.25 s with a Flux query for the E7 points of the
last minutes; latency of a reading = wall time of the first poll that returns it minus its
timestamp (the time the logger took the reading). Resolution: the poll interval plus one
query (~0.3 s).

Usage: python bench/latency.py [--seconds 300] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
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
    ap.add_argument("--out", default="bench/out/latency.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    server = tg = proc = None
    seen: dict[str, dict[float, float]] = {"direct": {}, "telegraf": {}}
    try:
        server = start_influxd(tmp / "influxd")
        for b in seen:
            server.create_bucket(b)
        data, state = tmp / "data", tmp / "state"
        data.mkdir()
        tg = make_telegraf(server, "telegraf", data, tmp / "tgstate", tmp / "telegraf")
        (tmp / "tgstate").mkdir()
        tg.start()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "LANG": "C.UTF-8", "CSV_DIR": str(data),
               "STATE_DIR": str(state), "INFLUXDB_ENABLED": "true", "INFLUXDB_URL": server.url,
               "INFLUXDB_TOKEN": server.token, "INFLUXDB_ORG": server.org, "INFLUXDB_BUCKET": "direct"}
        proc = subprocess.Popen(cli() + ["run", "--simulate"], cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                stderr=open(tmp / "logger.log", "wb"))  # noqa: SIM115
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            for b, known in seen.items():
                now = time.time()
                for t in e7_times(server, b):
                    if t not in known:
                        known[t] = now - t
            time.sleep(0.25)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        if tg is not None:
            tg.stop()
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    lat = {b: [v for v in known.values()] for b, known in seen.items()}
    from logger.config import load_settings

    defaults = load_settings(Path(__file__).resolve().parents[1] / "config" / "settings.yml", env={}, dotenv=None,
                             check_dirs=False).influxdb
    sd, st = summary(lat["direct"]), summary(lat["telegraf"])
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
            f"{fmt(st, 's', 2)}",
            verdict(bool(st.get("n")) and st["max"] <= 15.0),
            f"{CMD} --seconds {args.seconds:.0f}",
        ),
    ]
    write_result(args.out, "latency", rows, {"latency_s": lat})
    for r in rows:
        print(f"{r.measure}: {r.result} [{r.verdict}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
