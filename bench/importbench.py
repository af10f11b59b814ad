"""Benchmark 5: history import rate, ``smartmeter-logger import`` against Telegraf, same files, one run.

30 daily CSV files in the logger's format are written by the logger's own CsvSink with the
default schedule's rows (E7 every 10 s, E8 R/T every 60 s, E0/E3 every 300 s, D3/D7/E1
hourly, EA/EB every 30 min: 12 264 rows a day). Then, alternately, ``--repeats`` times each,
into a fresh bucket of one real influxd:

  import    ``smartmeter-logger import <30 files>`` (a subprocess; wall time from spawn to
            exit, then the bucket's count is checked)
  telegraf  the compose ``telegraf`` service with the project's telegraf.conf and an empty
            state dir (so it reads the files from the beginning); wall time from spawn until
            the bucket holds every row (polled every second with a Flux count)

rows/s = rows / wall time. Both run on the same 2 cores as influxd itself.

Usage: python bench/importbench.py [--days 30] [--repeats 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    DAY0,
    Row,
    fmt,
    make_telegraf,
    start_influxd,
    summary,
    verdict,
    write_result,
)

from logger.readings import Reading
from logger.sinks.csv_sink import CsvSink

CMD = "python bench/importbench.py"


def generate(data: Path, days: int) -> int:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Tokyo")
    sink = CsvSink(data, "%Y%m%d-smartmeter.csv", tz)
    start = datetime.fromtimestamp(DAY0, tz) - timedelta(days=days)
    n = 0
    counter = 123456
    for day in range(days):
        batch: list[Reading] = []
        for k in range(8640):
            t = start + timedelta(days=day, seconds=10 * k)
            ms = timedelta(milliseconds=(k * 37) % 400 + 100)
            power = 300 + (k * 7919) % 1500
            batch.append(Reading(t + ms, "smartmeter", "E7", "", Decimal(power)))
            if k % 6 == 0:
                batch.append(Reading(t + ms, "smartmeter", "E8", "R", Decimal(power % 200) / 10))
                batch.append(Reading(t + ms, "smartmeter", "E8", "T", Decimal(power % 170) / 10))
            if k % 30 == 0:
                counter += 1
                batch.append(Reading(t + ms, "smartmeter", "E0", "", Decimal(counter) / 10))
                batch.append(Reading(t + ms, "smartmeter", "E3", "", Decimal(0)))
            if k % 360 == 0:
                batch.append(Reading(t + ms, "smartmeter", "D3", "", Decimal(1)))
                batch.append(Reading(t + ms, "smartmeter", "D7", "", Decimal(6)))
                batch.append(Reading(t + ms, "smartmeter", "E1", "", Decimal("0.1")))
            if k % 180 == 0:
                batch.append(Reading(t, "smartmeter", "EA", "", Decimal(counter) / 10))
                batch.append(Reading(t, "smartmeter", "EB", "", Decimal(0)))
        sink.write(batch)
        n += len(batch)
    sink.close()
    return n


def cli() -> list[str]:
    exe = shutil.which("smartmeter-logger")
    return [exe] if exe else [sys.executable, "-m", "logger"]


def run_import(server, bucket: str, files: list[Path], workdir: Path) -> tuple[float, int]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir), "LANG": "C.UTF-8",
           "INFLUXDB_TOKEN": server.token}
    t0 = time.monotonic()
    r = subprocess.run(cli() + ["import", "--url", server.url, "--org", server.org, "--bucket", bucket,
                                *map(str, files)], cwd=workdir, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f"import failed ({r.returncode}): {r.stderr[-2000:]}")
    return wall, server.count(bucket)


def run_telegraf(server, bucket: str, data: Path, workdir: Path, rows: int, window: float) -> dict:
    """Telegraf from spawn until every row is in the bucket, or ``window`` seconds: rate = count / time."""
    state = workdir / "state"
    state.mkdir(parents=True, exist_ok=True)
    tg = make_telegraf(server, bucket, data, state, workdir)
    t0 = time.monotonic()
    tg.start()
    count = 0
    timeline = []
    try:
        while time.monotonic() - t0 < window:
            count = server.count(bucket)
            timeline.append((round(time.monotonic() - t0, 1), count))
            if count >= rows:
                break
            if not tg.running:
                raise RuntimeError(f"telegraf died: {tg.log()[-2000:]}")
            time.sleep(1.0)
        wall = time.monotonic() - t0
    finally:
        tg.stop()
    return {"wall_s": wall, "count": count, "rows_per_s": count / wall, "complete": count >= rows,
            "timeline": timeline[::5]}


def influxd_ceiling(server, bucket: str, files: list[Path], batch: int, writers: int = 1) -> float:
    """rows/s influxd takes pre-built line protocol at (no parsing): the bound any importer faces."""
    import csv
    import urllib.request

    from logger.commands.importer import RowConverter

    conv = RowConverter()
    lines = []
    for f in files:
        with open(f, newline="", encoding="utf-8") as fh:
            lines += [conv.line(r) for r in csv.reader(fh) if r and r[0] != "timestamp"]
    bodies = ["\n".join(lines[i:i + batch]).encode() for i in range(0, len(lines), batch)]
    from concurrent.futures import ThreadPoolExecutor

    def post(body: bytes) -> None:
        req = urllib.request.Request(f"{server.url}/api/v2/write?org={server.org}&bucket={bucket}&precision=ms",
                                     data=body, method="POST")
        req.add_header("Authorization", f"Token {server.token}")
        with urllib.request.urlopen(req, timeout=120) as r:
            assert r.status == 204

    t0 = time.monotonic()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(post, bodies))
    return len(lines) / (time.monotonic() - t0)


def telegraf_undelivered() -> int | None:
    """max_undelivered_lines of the project's telegraf.conf (None = Telegraf's default, 1000)."""
    import re

    from common import REPO

    m = re.search(r"^\s*max_undelivered_lines\s*=\s*(\d+)", (REPO / "telegraf.conf").read_text(), re.MULTILINE)
    return int(m.group(1)) if m else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--telegraf-window", type=float, default=90.0,
                    help="seconds Telegraf gets per round (it is far slower than a full read of 30 days)")
    ap.add_argument("--out", default="bench/out/import.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-import-"))
    server = None
    details: dict = {"days": args.days}
    try:
        data = tmp / "data"
        t0 = time.monotonic()
        rows = generate(data, args.days)
        details["generate_s"] = time.monotonic() - t0
        files = sorted(data.glob("*.csv"))
        details["rows"], details["files"] = rows, len(files)
        details["bytes"] = sum(f.stat().st_size for f in files)
        server = start_influxd(tmp / "influxd")
        imp, tel, dry = [], [], []
        for i in range(args.repeats):
            t1 = time.monotonic()
            r = subprocess.run(cli() + ["import", "--dry-run", *map(str, files)], cwd=tmp, capture_output=True, check=False,
                               env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp)})
            dry.append(rows / (time.monotonic() - t1))
            b = server.create_bucket(f"import{i}")
            wall, count = run_import(server, b, files, tmp)
            imp.append({"wall_s": wall, "count": count, "rows_per_s": rows / wall})
            b = server.create_bucket(f"telegraf{i}")
            tel.append(run_telegraf(server, b, data, tmp / f"telegraf{i}", rows, args.telegraf_window))
            print(f"round {i}: import {imp[-1]}, telegraf {tel[-1]}", flush=True)
        details["import"], details["telegraf"], details["dry_run_rows_per_s"] = imp, tel, dry
        details["influxd_ceiling_rows_per_s"] = {
            f"{n}-line requests, {w} writer(s)": influxd_ceiling(server, server.create_bucket(f"ceiling{n}-{w}"),
                                                                 files, n, w)
            for n, w in ((5000, 1), (50000, 1), (50000, 2))}
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    si = summary([r["rows_per_s"] for r in imp])
    st = summary([r["rows_per_s"] for r in tel])
    ratios = summary([a["rows_per_s"] / b["rows_per_s"] for a, b in zip(imp, tel) if b["rows_per_s"]])
    complete = all(r["count"] == details["rows"] for r in imp)
    undelivered = telegraf_undelivered()
    details["telegraf_max_undelivered_lines"] = undelivered
    out_rows = [
        Row(
            f"5. History import: `smartmeter-logger import` of {args.days} days of 10 s data ({details['rows']} rows) "
            "into influxd",
            "≥ 100 k rows/s",
            f"{fmt(si, 'rows/s', 0)} (wall time from spawn to exit, all rows queryable afterwards: {complete}); "
            f"parse only (`import --dry-run`): {fmt(summary(details['dry_run_rows_per_s']), 'rows/s', 0)}; "
            "influxd alone taking pre-built line protocol (the ceiling): "
            + ", ".join(f"{v:,.0f} rows/s with {k}"
                        for k, v in details["influxd_ceiling_rows_per_s"].items()),
            verdict(si["median"] >= 100_000 and complete),
            f"{CMD} --days {args.days} --repeats {args.repeats}",
        ),
        Row(
            "5. History import against Telegraf (project telegraf.conf, same files from the beginning, same run)",
            "≥ 3× Telegraf",
            f"Telegraf {fmt(st, 'rows/s', 0)} (measured over its first {args.telegraf_window:.0f} s per round on the "
            f"same {details['files']} files, {sum(t['complete'] for t in tel)}/{len(tel)} rounds complete within it; "
            f"wall time includes Telegraf's 10 s flush tick); ratio import/Telegraf per round {fmt(ratios, '×', 2)}; "
            + (f"telegraf.conf max_undelivered_lines {undelivered}" if undelivered else
               "telegraf.conf leaves tail's max_undelivered_lines at its default 1000, which lets only 1000 lines "
               "out per flush_interval (10 s)"),
            verdict(ratios.get("median", 0) >= 3.0),
            f"{CMD} --days {args.days} --repeats {args.repeats}",
        ),
    ]
    write_result(args.out, "import", out_rows, details)
    for r in out_rows:
        print(f"{r.measure}: {r.result} [{r.verdict}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
