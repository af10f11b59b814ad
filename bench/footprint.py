"""Benchmark 4: memory and CPU of ``smartmeter-logger run`` in real time, plus import cost.

Configurations, run side by side (each its own processes, own data dirs), with the shipped
config/settings.yml as the container runs it (``run --config``; its schedule: E7 every 10 s,
E8 60 s, E0/E3 300 s, context hourly), CSV sink on:

  inproc   ``smartmeter-logger run --simulate``: logger + in-process simulator (one process)
  outproc  ``smartmeter-logger simulate --listen 127.0.0.1:PORT`` in its own process and
           ``smartmeter-logger run`` with SERIAL_PORT=socket://127.0.0.1:PORT: the logger alone
  influx   as outproc, with the InfluxDB sink on (real influxd from scripts/test-services.sh)
  web      as outproc, with the live page on (``run --web``) and one page open for the whole run: a
           client in this process makes exactly the page's requests (the page, its script, style and
           chart library, api/status, today's power, the energy; then the event stream, read as it
           comes, and the energy again after each EA/EB/E0/E3 reading, as static/app.js does), plus
           yesterday's power once (a full day's curve: today's at 23:59). The data directory is
           seeded with a full synthetic day yesterday and today's rows up to now (E7 every 10 s,
           E8 every 60 s, E0/E3 every 5 min, EA/EB every 30 min), so the files are day-sized.

Sampled every 2 s from /proc/PID/status (VmHWM = peak RSS, VmRSS) and /proc/PID/stat
(utime + stime). CPU share = CPU seconds / wall seconds (of one core), per 60 s window after
the first 60 s (startup) and over the whole run.

Also, with the interpreter the logger runs on (the release venv's; this one with --install dev):
``python -X importtime -c "import logger.cli"`` (cumulative import time of the CLI), the RSS of a
process that has imported the CLI against a bare interpreter, and where the RSS goes (the
diagnosis row: without site, with site, after importing what run builds, with the InfluxDB client).

The logger runs from a release install, as in the container image: a fresh venv with
``pip install .`` (not editable), so the figure is not inflated by this development
interpreter's start-up hooks (an editable-install finder, a sandbox certifi .pth: ~3 MB).
``--install dev`` measures the development interpreter instead. The simulator (not
measured in outproc/influx) always runs from the development install.

Usage: python bench/footprint.py [--seconds 600] [--configs inproc,outproc,web,influx] [--install venv|dev]
                                 [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, Row, fmt, start_influxd, summary, verdict, write_result

CLK_TCK = os.sysconf("SC_CLK_TCK")
PY = sys.executable


def cli() -> list[str]:
    exe = shutil.which("smartmeter-logger")
    return [exe] if exe else [PY, "-m", "logger"]


RELEASE = {"cli": None, "python": None}


def release_cli(venv: Path) -> list[str]:
    """``smartmeter-logger`` from a fresh venv with a non-editable install of this checkout."""
    if RELEASE["cli"] is None:
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([PY, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(REPO)],
                       check=True)
        RELEASE["cli"] = [str(venv / "bin" / "smartmeter-logger")]
        RELEASE["python"] = str(venv / "bin" / "python")
    return RELEASE["cli"]


def logger_cli() -> list[str]:
    return RELEASE["cli"] or cli()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_sample(pid: int) -> dict | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    out = {}
    for key in ("VmHWM", "VmRSS"):
        m = re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE)
        out[key] = int(m.group(1)) if m else 0
    fields = stat.rsplit(")", 1)[1].split()
    out["cpu_s"] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    out["t"] = time.monotonic()
    return out


class Config:
    def __init__(self, name: str, root: Path, influx=None) -> None:
        self.name = name
        self.root = root
        self.influx = influx
        self.sim: subprocess.Popen | None = None
        self.logger: subprocess.Popen | None = None
        self.samples: list[dict] = []
        self.sim_samples: list[dict] = []
        self.rc: int | None = None
        self.page: OpenPage | None = None
        self.seeded = 0  # E7 rows written before the start (web: day-sized files)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root), "LANG": "C.UTF-8",
               "CSV_DIR": str(self.root / "data"), "STATE_DIR": str(self.root / "state")}
        # the shipped settings.yml, as the container runs it (run --config /config/settings.yml)
        args = logger_cli() + ["run", "--config", str(REPO / "config" / "settings.yml")]
        web_port = None
        if self.name == "web":
            web_port = free_port()
            args += ["--web", f"127.0.0.1:{web_port}"]
            self.seeded = seed_day_files(self.root / "data")
            env["UNIT_PRICE_JPY_PER_KWH"] = "31"
        if self.name == "inproc":
            args.append("--simulate")
        else:
            port = free_port()
            self.sim = subprocess.Popen(cli() + ["simulate", "--listen", f"127.0.0.1:{port}"], cwd=self.root,
                                        stdout=subprocess.PIPE, stderr=open(self.root / "sim.log", "wb"), env=env)  # noqa: SIM115
            line = self.sim.stdout.readline().decode().strip()
            from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID

            env.update({"SERIAL_PORT": line, "BROUTE_ID": DEMO_RBID, "BROUTE_PASSWORD": DEMO_PASSWORD})
        if self.influx is not None:
            url, token, org, bucket = self.influx
            env.update({"INFLUXDB_ENABLED": "true", "INFLUXDB_URL": url, "INFLUXDB_TOKEN": token,
                        "INFLUXDB_ORG": org, "INFLUXDB_BUCKET": bucket})
        self.logger = subprocess.Popen(args, cwd=self.root, env=env, stdout=subprocess.DEVNULL,
                                       stderr=open(self.root / "logger.log", "wb"))  # noqa: SIM115
        if web_port is not None:
            self.page = OpenPage(f"http://127.0.0.1:{web_port}/")

    def sample(self) -> None:
        if self.logger and self.logger.poll() is None:
            s = proc_sample(self.logger.pid)
            if s:
                self.samples.append(s)
        if self.sim and self.sim.poll() is None:
            s = proc_sample(self.sim.pid)
            if s:
                self.sim_samples.append(s)

    def stop(self) -> None:
        if self.page is not None:
            self.page.stop()
        if self.logger:
            self.logger.send_signal(signal.SIGTERM)
            try:
                self.rc = self.logger.wait(30)
            except subprocess.TimeoutExpired:
                self.logger.kill()
                self.rc = self.logger.wait()
        if self.sim:
            self.sim.send_signal(signal.SIGTERM)
            try:
                self.sim.wait(10)
            except subprocess.TimeoutExpired:
                self.sim.kill()

    def e7_rows(self) -> int:
        n = 0
        for f in (self.root / "data").glob("*.csv"):
            n += sum(1 for line in f.read_text().splitlines() if ",E7," in line)
        return n - self.seeded


def seed_day_files(data: Path, tz: str = "Asia/Tokyo") -> int:
    """Day-sized CSV files for the page to read: yesterday whole, today up to now (synthetic rows)."""
    zone = ZoneInfo(tz)
    now = datetime.now(zone)
    start = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    data.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[str]] = {}
    t, i, kwh = start, 0, 12000.0
    while t < now - timedelta(minutes=2):
        ts = t.isoformat(timespec="milliseconds")
        w = 250 + (1500 if 6 <= t.hour < 9 or 18 <= t.hour < 22 else 0) + (i * 37) % 200
        rows = files.setdefault(t.strftime("%Y%m%d-smartmeter.csv"), [])
        rows.append(f"{ts},smartmeter,E7,,{w}")
        kwh += w * 10 / 3.6e6
        if i % 6 == 0:
            rows += [f"{ts},smartmeter,E8,R,{w / 200:.1f}", f"{ts},smartmeter,E8,T,{w / 300:.1f}"]
        if i % 30 == 0:
            rows += [f"{ts},smartmeter,E0,,{kwh:.1f}", f"{ts},smartmeter,E3,,0"]
        if i % 180 == 0:
            rows += [f"{ts},smartmeter,EA,,{kwh:.1f}", f"{ts},smartmeter,EB,,0"]
        t += timedelta(seconds=10)
        i += 1
    for name, rows in files.items():
        (data / name).write_text("timestamp,unitid,epc,dataid,value\n" + "\n".join(rows) + "\n")
    return i


class OpenPage:
    """One open live page: its load requests, then the event stream read as it comes (a thread)."""

    LOAD = ("", "app.js", "app.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css", "favicon.svg",
            "api/status", "api/power?day=today", "api/energy", "api/power?day=yesterday")

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests = 0
        self.events = 0
        self.errors: list[str] = []
        self._stop = False
        self._stream = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            self.requests += 1
            return r.read()

    def _run(self) -> None:
        deadline = time.monotonic() + 60
        while not self._stop and time.monotonic() < deadline:
            try:
                self.get("api/status")
                break
            except OSError:
                time.sleep(0.5)
        try:
            for path in self.LOAD:
                self.get(path)
            self._stream = urllib.request.urlopen(self.url + "api/events", timeout=60)
            name = ""
            for raw in self._stream:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.events += 1
                    if name == "readings" and any(f'"epc":"{e}"' in line for e in ("EA", "EB", "E0", "E3")):
                        self.get("api/energy")
                if self._stop:
                    break
        except Exception as exc:  # noqa: BLE001 - reported in the result
            if not self._stop:
                self.errors.append(repr(exc))

    def stop(self) -> None:
        self._stop = True
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # noqa: BLE001
                pass


def cpu_stats(samples: list[dict], skip_s: float = 60.0, window_s: float = 60.0) -> dict:
    if len(samples) < 2:
        return {}
    t0 = samples[0]["t"]
    steady = [s for s in samples if s["t"] - t0 >= skip_s]
    windows = []
    i = 0
    while steady and i < len(steady):
        j = i
        while j < len(steady) and steady[j]["t"] - steady[i]["t"] < window_s:
            j += 1
        if j >= len(steady):
            break
        a, b = steady[i], steady[j]
        windows.append((b["cpu_s"] - a["cpu_s"]) / (b["t"] - a["t"]) * 100)
        i = j
    total = (samples[-1]["cpu_s"] - samples[0]["cpu_s"]) / (samples[-1]["t"] - samples[0]["t"]) * 100
    steady_total = None
    if len(steady) >= 2:
        steady_total = (steady[-1]["cpu_s"] - steady[0]["cpu_s"]) / (steady[-1]["t"] - steady[0]["t"]) * 100
    return {"windows_pct": windows, "window_summary": summary(windows), "whole_run_pct": total,
            "steady_pct": steady_total, "cpu_s_total": samples[-1]["cpu_s"]}


def import_cost(py: str, cwd: Path, site: str, repeats: int = 7) -> dict:
    """Import time and RSS with the interpreter the logger runs on: the release venv's (``cwd`` outside
    the checkout, so the installed copy is imported) or, with --install dev, this one; ``site`` names it."""
    probe = ("import re,pathlib;s=pathlib.Path('/proc/self/status').read_text();"
             "print(re.search(r'VmRSS:\\s+(\\d+)',s).group(1),re.search(r'VmHWM:\\s+(\\d+)',s).group(1))")

    def status_after(code: str, *flags: str) -> tuple[float, float]:
        """(VmRSS, VmHWM) in MB of ``py [flags] -c code`` at its end."""
        out = subprocess.run([py, *flags, "-c", code + probe], capture_output=True, text=True, cwd=cwd,
                             check=False).stdout.split()
        return int(out[0]) / 1024, int(out[1]) / 1024

    times, rss, hwm, bare = [], [], [], []
    importtime = ""
    for _ in range(repeats):
        importtime = subprocess.run([py, "-X", "importtime", "-c", "import logger.cli"], capture_output=True,
                                    text=True, cwd=cwd, check=False).stderr
        for line in importtime.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and parts[2] == "logger.cli":
                times.append(int(parts[1]) / 1000.0)
        rss_mb, hwm_mb = status_after("import logger.cli;")
        rss.append(rss_mb)
        hwm.append(hwm_mb)
        bare.append(status_after("")[0])

    # as the CLI imports a command's module: dataclasses with inspect deferred (logger/deferred_inspect.py)
    DEFER = "from logger.deferred_inspect import defer_inspect; defer_inspect();"
    breakdown = {
        "interpreter without site (-S -I)": summary([status_after("", "-S", "-I")[0] for _ in range(3)]),
        f"interpreter with {site}'s site": summary(bare),
        "after import logger.app (what run builds)": summary(
            [status_after(DEFER + "import logger.app, logger.transport, serial, logger.sinks.csv_sink;")[0]
             for _ in range(3)]),
        "after import logger.sinks.influx_sink + influxdb_client": summary(
            [status_after(DEFER + "import logger.app, logger.sinks.influx_sink, influxdb_client;")[0]
             for _ in range(3)]),
    }
    # what the CLI pulls in at import (third-party heavy modules would show here), from the last run
    heavy = []
    for line in importtime.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[1].isdigit() and not parts[2].startswith(" "):
            heavy.append((int(parts[1]) / 1000.0, parts[2]))
    heavy.sort(reverse=True)
    return {"rss_breakdown_mb": breakdown, "import_ms": summary(times), "rss_mb": summary(rss), "hwm_mb": summary(hwm),
            "bare_rss_mb": summary(bare), "top_cumulative_ms": heavy[:8]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--configs", default="inproc,outproc,web,influx")
    ap.add_argument("--out", default="bench/out/footprint.json")
    ap.add_argument("--install", choices=("venv", "dev"), default="venv",
                    help="run the logger from a release venv (default, like the image) or this interpreter")
    args = ap.parse_args()
    names = [c for c in args.configs.split(",") if c]
    tmp = Path(tempfile.mkdtemp(prefix="bench-footprint-"))
    if args.install == "venv":
        release_cli(tmp / "venv")
    influx_server = None
    details: dict = {"seconds": args.seconds, "configs": {}, "install": args.install}
    rows: list[Row] = []
    cmd = f"python bench/footprint.py --seconds {args.seconds:.0f} --configs {','.join(names)} --install {args.install}"
    try:
        influx = None
        if "influx" in names:
            try:
                influx_server = start_influxd(tmp / "influxd")
                influx = (influx_server.url, influx_server.token, influx_server.org, influx_server.bucket)
            except Exception as exc:  # noqa: BLE001 - reported in the doc
                details["influx_error"] = str(exc)
                names.remove("influx")
        configs = [Config(n, tmp / n, influx if n == "influx" else None) for n in names]
        for c in configs:
            c.start()
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            for c in configs:
                c.sample()
            time.sleep(2.0)
        for c in configs:
            c.sample()
            c.stop()
        skip, window = min(60.0, args.seconds * 0.2), min(60.0, args.seconds / 5)
        details["steady_after_s"], details["window_s"] = skip, window
        for c in configs:
            hwm = max((s["VmHWM"] for s in c.samples), default=0) / 1024
            rss = [s["VmRSS"] / 1024 for s in c.samples]
            d = {"peak_rss_mb": hwm, "rss_mb": summary(rss), "cpu": cpu_stats(c.samples, skip, window), "exit_code": c.rc,
                 "e7_rows": c.e7_rows(), "sim_peak_rss_mb": max((s["VmHWM"] for s in c.sim_samples), default=0) / 1024,
                 "sim_cpu": cpu_stats(c.sim_samples, skip, window) if c.sim_samples else None,
                 "log_tail": (c.root / "logger.log").read_text(errors="replace").splitlines()[-5:]}
            if c.page is not None:
                d["page"] = {"requests": c.page.requests, "events": c.page.events, "errors": c.page.errors}
            details["configs"][c.name] = d
        if RELEASE["python"] is not None:
            imp = import_cost(RELEASE["python"], tmp, "the release venv")
        else:
            imp = import_cost(PY, REPO, "this development install")
        details["import"] = imp
    finally:
        if influx_server is not None:
            influx_server.stop()
    expected_e7 = int(args.seconds // 10)
    labels = {
        "inproc": "`run --simulate` (logger + in-process simulator)",
        "outproc": "`run` alone, simulator in another process (socket://)",
        "influx": "`run` alone + InfluxDB sink (real influxd)",
        "web": "`run` alone + live page (`--web`) with one page open (outproc + web)",
    }
    for name, d in details["configs"].items():
        rss_target = 45.0 if name == "influx" else 20.0
        steady = d["cpu"].get("steady_pct")
        ws = d["cpu"].get("window_summary", {})
        page = ""
        if "page" in d:
            p = d["page"]
            page = (f"; the open page: {p['requests']} request(s), {p['events']} event(s) received"
                    + (f", errors {p['errors']}" if p["errors"] else ""))
            alone = details["configs"].get("outproc")
            if alone:  # same machine, same minutes: the difference is what the page costs
                page += (f"; {d['peak_rss_mb'] - alone['peak_rss_mb']:+.2f} MB against the logger alone "
                         f"({alone['peak_rss_mb']:.2f} MB)")
        rows.append(Row(
            f"4. Peak RSS (VmHWM), {labels[name]}",
            ("info (the ≤ 20 MB target is for the logger alone, next row)" if name == "inproc" else
             f"≤ {rss_target:.0f} MB" + (" (established logger: 14 MB)" if name != "influx" else "")),
            f"{d['peak_rss_mb']:.2f} MB (VmRSS {fmt(d['rss_mb'], 'MB', 1)}); {d['e7_rows']} E7 rows in "
            f"{args.seconds:.0f} s (expected ≈ {expected_e7}), exit code {d['exit_code']}{page}",
            "info" if name == "inproc" else verdict(d["peak_rss_mb"] <= rss_target),
            cmd,
        ))
        if name in ("inproc", "outproc", "web"):
            rows.append(Row(
                f"4. CPU share of one core, {labels[name]}",
                "≤ 0.2 %" if name == "outproc" else "info (includes the simulator)" if name == "inproc" else
                "info (the page open all the time)",
                f"{(steady or 0):.3f} % after the first {details['steady_after_s']:.0f} s; per-window {fmt(ws, '%', 3)}; "
                f"whole run incl. startup {d['cpu']['whole_run_pct']:.3f} %"
                + (f"; the simulator process alone: {d['sim_cpu']['steady_pct']:.3f} %, "
                   f"{d['sim_peak_rss_mb']:.1f} MB" if d.get("sim_cpu") else ""),
                verdict(steady is not None and steady <= 0.2) if name == "outproc" else "info",
                cmd,
            ))
        if name == "influx":
            rows.append(Row(
                f"4. CPU share of one core, {labels[name]}", "info",
                f"{(steady or 0):.3f} % after the first {details['steady_after_s']:.0f} s; per-window {fmt(ws, '%', 3)}",
                "info", cmd))
    if "influx_error" in details:
        rows.append(Row("4. Peak RSS with the InfluxDB sink", "≤ 45 MB", f"not measured: {details['influx_error']}",
                        "MISSED", cmd))
    imp = details["import"]
    rows.append(Row(
        "4. CLI import: `python -X importtime -c 'import logger.cli'`",
        "info",
        f"{fmt(imp['import_ms'], 'ms', 1)} cumulative; RSS after import {fmt(imp['rss_mb'], 'MB', 1)} "
        f"(bare interpreter {fmt(imp['bare_rss_mb'], 'MB', 1)})",
        "info",
        "python bench/footprint.py (import part); python -X importtime -c 'import logger.cli'",
    ))
    rows.append(Row(
        "4. (diagnosis) where the RSS goes",
        "info",
        "; ".join(f"{k}: {v['median']:.1f} MB" for k, v in imp["rss_breakdown_mb"].items()),
        "info",
        "python bench/footprint.py (import part)",
    ))
    write_result(args.out, "footprint", rows, details)
    for r in rows:
        print(f"{r.measure}: {r.result} [{r.verdict}]")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
