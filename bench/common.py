"""Shared helpers for the benchmarks: machine facts, statistics, building the real app.

Every bench script writes one JSON file (``--out``) with a list of *rows*
(measure, target, result, verdict, command) plus raw numbers; ``bench/run`` turns those
into docs/benchmarks.md. Nothing here is a mock: the app is what ``smartmeter-logger run``
builds (:func:`logger.app.build_app`), the dongle and meter are the project's simulator.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# 2026-11-22 00:00:00 +09:00 (JST): a fixed, reproducible simulated day.
DAY0 = 1795273200.0


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, check=False,
                                text=True).stdout.strip()
    except OSError:
        commit = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": commit,
    }


def summary(values: list[float]) -> dict:
    """median, min, max, IQR (q1..q3) and n of ``values``."""
    v = sorted(values)
    if not v:
        return {"n": 0}
    if len(v) >= 4:
        q = statistics.quantiles(v, n=4, method="inclusive")
        q1, q3 = q[0], q[2]
    else:
        q1, q3 = v[0], v[-1]
    return {"n": len(v), "median": statistics.median(v), "min": v[0], "max": v[-1], "q1": q1, "q3": q3}


def fmt(s: dict, unit: str = "", digits: int = 2) -> str:
    """``1.23 s (min 1.10, max 1.40, n=10)``"""
    if not s.get("n"):
        return "no data"
    f = f"{{:.{digits}f}}"
    u = f" {unit}" if unit else ""
    return (f"{f.format(s['median'])}{u} median (min {f.format(s['min'])}, max {f.format(s['max'])}, "
            f"n={s['n']})")


@dataclass
class Row:
    measure: str
    target: str
    result: str
    verdict: str  # "met", "MISSED", "info"
    command: str
    notes: list[str] = field(default_factory=list)


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "info"
    return "met" if ok else "MISSED"


def write_result(path: str | os.PathLike[str], name: str, rows: list[Row], details: dict) -> None:
    out = {
        "name": name,
        "machine": machine(),
        "rows": [r.__dict__ for r in rows],
        "details": details,
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")


# --------------------------------------------------------------------------- the app, virtual time


class ProbeSink:
    """A sink that remembers (clock time, reading) of everything the runner records."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.rows: list[tuple[float, object]] = []

    def write(self, readings) -> None:
        t = self.clock.time()
        for r in readings:
            self.rows.append((t, r))

    def close(self, timeout_s: float = 0.0) -> None:
        pass

    def first(self, epc: str, after: float = float("-inf")) -> float | None:
        for t, r in self.rows:
            if t >= after and r.epc == epc:
                return t
        return None


def make_app(root: Path, clock, sim, settings_yaml: str = "{}", env: dict | None = None, probe: bool = True):
    """Exactly what ``run`` builds (settings → build_app) on ``clock`` with ``sim``; data and
    state under ``root``. Returns (app, probe sink or None)."""
    from logger.app import build_app
    from logger.config import load_settings

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.yml").write_text(settings_yaml, encoding="utf-8")
    full_env = {"CSV_DIR": str(root / "data"), "STATE_DIR": str(root / "state"), **(env or {})}
    settings = load_settings(root / "settings.yml", env=full_env, dotenv=None)
    app = build_app(settings, clock=clock, simulation=sim, max_wait_s=60.0)
    sink = None
    if probe:
        sink = ProbeSink(clock)
        app.runner.sinks.append(sink)
    return app, sink


def run_without_shutdown(app, until: float) -> None:
    """Drive the runner like ``Runner.run`` but without the graceful shutdown (SKTERM):
    what a killed process (SIGKILL, OOM, power cut of the host only) leaves behind."""
    runner = app.runner
    while runner.clock.time() < until:
        runner._once(until)


def quiet_logs() -> None:
    import logging

    logging.basicConfig(level=logging.CRITICAL)
    logging.getLogger().setLevel(logging.CRITICAL)


# --------------------------------------------------------------------------- real services


def services():
    """tests/integration/services.py (the real influxd and Telegraf, as the integration tests run them)."""
    path = str(REPO / "tests" / "integration")
    if path not in sys.path:
        sys.path.insert(0, path)
    import services as svc

    return svc


def start_influxd(workdir: Path):
    """A real influxd (binary from scripts/test-services.sh) on a free port, onboarded."""
    svc = services()
    server = svc.InfluxD(binary=svc.require_binary("INFLUXD_BIN"), workdir=Path(workdir))
    server.start()
    server.setup()
    return server


def make_telegraf(server, bucket: str, data_dir: Path, state_dir: Path, workdir: Path):
    """The compose ``telegraf`` service on the host with the project's telegraf.conf (not started)."""
    svc = services()
    env_example = svc.read_env_file(REPO / ".env.example")
    variables = {**env_example, "INFLUXDB_URL": server.url, "INFLUXDB_TOKEN": server.token,
                 "INFLUXDB_ORG": server.org, "INFLUXDB_BUCKET": bucket}
    return svc.Telegraf(svc.require_binary("TELEGRAF_BIN"), Path(workdir), variables,
                        mounts={"/data": Path(data_dir), "/var/lib/telegraf": Path(state_dir)})
