"""The real ``smartmeter-logger run --simulate --web`` process for the live-page tests: temporary
data and state directories, configured secrets (to prove none is ever served), a free port."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: well-formed, obviously fake credentials the page must never show (the demo meter accepts whatever
#: is configured); distinctive, so a leak would be found
SECRETS = {"BROUTE_ID": "FAKE0000WEB11111FAKE2222WEB33333", "BROUTE_PASSWORD": "FAKEwebPW004",
           "INFLUXDB_TOKEN": "FAKE-test-token-never-served-0123456789"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_", "WEB_", "UNIT_PRICE"))}
    for key in ("STATE_DIR", "DEBUG", "LOGGER_TIMEZONE", "LOGGER_UNITID"):
        env.pop(key, None)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def prime_scan_cache(state_dir: Path, tmp: Path) -> None:
    """A scan cache for the built-in simulated meter (from a short virtual run), so a real-time
    ``run --simulate`` joins at once instead of scanning for ~25 s. Its backfill frontier is
    dropped: the real run then backfills today only."""
    from logger.simulate.embedded import virtual_app

    app = virtual_app(tmp / "virtual", time.time() - 600)
    app.run(until=app.runner.clock.time() + 120)
    data = json.loads((tmp / "virtual" / "state" / "scan.json").read_text())
    data.update(last_slot=None, recorded=[], session_held=False)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "scan.json").write_text(json.dumps(data))


@dataclass
class Logger:
    root: Path
    port: int
    proc: subprocess.Popen
    log: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def get(self, path: str, timeout: float = 10) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def wait_serving(self, bound_s: float = 20) -> None:
        deadline = time.monotonic() + bound_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if self.get("api/status", 2)[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the page did not answer within {bound_s} s:\n{self.log.read_text()}")

    def e7_rows(self) -> list[list[str]]:
        rows = []
        for f in sorted((self.root / "data").glob("*.csv")):
            with f.open(newline="") as fh:
                rows += [r for r in csv.reader(fh) if len(r) == 5 and r[2] == "E7" and r[1] == "smartmeter"]
        return rows

    def wait_rows(self, count: int, bound_s: float = 120) -> list[list[str]]:
        deadline = time.monotonic() + bound_s  # a bound, not an expectation
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            rows = self.e7_rows()
            if len(rows) >= count:
                return rows
            time.sleep(0.5)
        raise AssertionError(f"fewer than {count} E7 rows within {bound_s} s:\n{self.log.read_text()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start(root: Path, args: list[str] = (), env: dict[str, str] | None = None, port: int | None = None,
          web: bool = True, python: list[str] | None = None) -> Logger:
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    full_env = clean_env({"CSV_DIR": str(root / "data"), "STATE_DIR": str(root / "state"), **SECRETS, **(env or {})})
    argv = [*(python or [sys.executable]), "-m", "logger", "run", "--simulate", *args]
    if web:
        argv += ["--web", f"127.0.0.1:{port}"]
    log = root / "logger.log"
    proc = subprocess.Popen(argv, cwd=root, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(log, "wb"))
    return Logger(root, port, proc, log)
