"""Stopping the real ``run`` process with the InfluxDB sink on (issue 12): SIGTERM must end with
exit 0, no traceback, ONE line about InfluxDB, and every reading either in the REAL influxd or
in the spool; a later start against a live influxd delivers the spool, nothing lost or doubled.

The process is what a user starts: ``python -m logger run --simulate`` with the InfluxDB
settings in the environment (never as arguments) and its directories in a temp dir.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from services import REPO, free_port, wait_until
from test_telegraf_pipeline import csv_points, influx_points

from logger.sinks.points import epoch_ms
from logger.sinks.spool import Spool

#: the simulated demo joins and records its first rows after about 25 s
FIRST_ROWS_S = 120.0


def logger_env(root: Path, url: str, token: str, org: str, bucket: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_", "STATE_", "LOGGER_", "DEBUG"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update({"CSV_DIR": str(root / "data"), "STATE_DIR": str(root / "state"), "INFLUXDB_ENABLED": "true",
                "INFLUXDB_URL": url, "INFLUXDB_TOKEN": token, "INFLUXDB_ORG": org, "INFLUXDB_BUCKET": bucket})
    return env


class Run:
    """One ``run --simulate`` process, its stderr in a file."""

    def __init__(self, root: Path, env: dict[str, str], name: str) -> None:
        self.root = root
        self.stderr = root / f"{name}.stderr"
        self.stdout = root / f"{name}.stdout"
        with open(self.stdout, "wb") as out, open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "logger", "run", "--simulate"], cwd=root,
                                         env=env, stdout=out, stderr=err)
        self.stop_offset = 0

    def text(self) -> str:
        return self.stderr.read_text(errors="replace")

    def e7_rows(self) -> int:
        return sum(1 for p in csv_points(self.root / "data") if p[2] == "E7") if list(
            (self.root / "data").glob("*.csv")) else 0

    def wait_for_e7(self, n: int) -> None:
        wait_until(lambda: self.proc.poll() is not None or self.e7_rows() >= n, timeout=FIRST_ROWS_S, interval=0.5)
        assert self.proc.poll() is None, f"run exited early:\n{self.text()[-3000:]}"
        assert self.e7_rows() >= n, f"no {n} E7 rows within {FIRST_ROWS_S:.0f} s:\n{self.text()[-3000:]}"

    def sigterm(self) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds the stop took)."""
        self.stop_offset = self.stderr.stat().st_size
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(60)
        return rc, time.monotonic() - started

    def after_stop(self) -> list[str]:
        return self.stderr.read_bytes()[self.stop_offset:].decode(errors="replace").splitlines()


def check_clean_stop(run: Run, rc: int, took: float, token: str) -> None:
    text = run.text()
    assert rc == 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert took < 10.0, f"the stop took {took:.1f} s (docker stop allows 10 s before SIGKILL)"
    about_influx = [line for line in run.after_stop() if "InfluxDB" in line]
    assert len(about_influx) == 1, about_influx  # one line: delivered on stop / kept in the spool
    assert token not in text + run.stdout.read_text(errors="replace")


def spooled_points(spool_dir: Path) -> list[tuple]:
    """The uncommitted spool as (epoch ms, unitid, epc, dataid, value), in order."""
    spool = Spool(spool_dir)
    try:
        lines = spool.peek(10**7).lines
    finally:
        spool.close()
    out = []
    for line in lines:
        head, field, ms = line.split(" ")
        tags = dict(kv.split("=", 1) for kv in head.split(",")[1:])
        out.append((int(ms), tags["unitid"], tags["epc"], tags.get("dataid", ""), float(field.split("=", 1)[1])))
    return out


def as_ms(points) -> set[tuple]:
    return {(epoch_ms(t), *rest) for t, *rest in points}


def test_sigterm_with_influxdb_up_delivers_every_reading(influxdb, bucket, tmp_path):
    run = Run(tmp_path, logger_env(tmp_path, influxdb.url, influxdb.token, influxdb.org, bucket), "run")
    run.wait_for_e7(3)
    rc, took = run.sigterm()
    check_clean_stop(run, rc, took, influxdb.token)

    expected = csv_points(tmp_path / "data")
    stored = influx_points(influxdb, bucket)
    assert set(stored) == expected and len(stored) == len(expected)
    assert spooled_points(tmp_path / "state" / "spool") == []


def test_sigterm_with_influxdb_unreachable_keeps_the_spool_then_a_restart_delivers_it(influxdb, bucket, tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    first = Run(tmp_path, logger_env(tmp_path, closed, influxdb.token, influxdb.org, bucket), "first")
    first.wait_for_e7(3)
    rc, took = first.sigterm()
    check_clean_stop(first, rc, took, influxdb.token)
    recorded = csv_points(tmp_path / "data")
    spooled = spooled_points(tmp_path / "state" / "spool")
    assert set(spooled) == as_ms(recorded)  # every reading of the CSV waits in the spool
    assert influxdb.count(bucket) == 0

    second = Run(tmp_path, logger_env(tmp_path, influxdb.url, influxdb.token, influxdb.org, bucket), "second")
    assert wait_until(lambda: second.proc.poll() is not None or influxdb.count(bucket) >= len(recorded),
                      timeout=FIRST_ROWS_S, interval=0.5)
    assert second.proc.poll() is None, second.text()[-3000:]
    rc, took = second.sigterm()
    check_clean_stop(second, rc, took, influxdb.token)

    expected = csv_points(tmp_path / "data")  # both runs' rows
    assert recorded <= expected
    stored = influx_points(influxdb, bucket)
    assert set(stored) == expected and len(stored) == len(expected)  # nothing lost, nothing doubled
    assert spooled_points(tmp_path / "state" / "spool") == []
