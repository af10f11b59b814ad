"""``simulate`` takes the meter's credentials like ``run`` does: flags, else BROUTE_ID /
BROUTE_PASSWORD from the environment or ``.env``, else the demo ones (named on stderr).
A non-demo ID is never printed. Checked with the real processes: simulate, then doctor --join."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID

OWN_ID = "FEDCBA9876543210FEDCBA9876543210"
OWN_PASSWORD = "FAKEtestPW02"  # fake


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_", "STATE_")) and k != "DEBUG"}
    env.update(extra)
    return env


def start(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "logger", "simulate", "--listen", "127.0.0.1:0",
                             "--min-scan-duration", "3", "--pana-fail-time", "4"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = proc.stdout.readline().strip()
    assert port.startswith("socket://"), proc.stderr.read()
    return proc, port


def stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=15)
    return err


def doctor_join(tmp_path: Path, port: str, rbid: str, password: str) -> str:
    cfg = tmp_path / "doctor.yml"
    cfg.write_text("session:\n  scan_duration_min: 3\n  scan_duration_max: 4\n")
    env = _clean_env(BROUTE_ID=rbid, BROUTE_PASSWORD=password, SERIAL_PORT=port,
                     CSV_DIR=str(tmp_path / "data"), STATE_DIR=str(tmp_path / "state"))
    out = subprocess.run([sys.executable, "-m", "logger", "doctor", "--config", str(cfg), "--join",
                          "--env-file", str(tmp_path / "none.env")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    return next(line for line in out.stdout.splitlines() if line[5:].startswith("join:"))


@pytest.mark.parametrize("via", ["environment", "dotenv"])
def test_simulate_serves_the_credentials_run_would_use(tmp_path: Path, via: str) -> None:
    if via == "environment":
        env = _clean_env(BROUTE_ID=OWN_ID, BROUTE_PASSWORD=OWN_PASSWORD)
    else:
        (tmp_path / ".env").write_text(f"BROUTE_ID={OWN_ID}\nBROUTE_PASSWORD={OWN_PASSWORD}\n")
        env = _clean_env()
    sim, port = start(tmp_path, env)
    try:
        assert doctor_join(tmp_path, port, OWN_ID, OWN_PASSWORD).startswith("OK")
        assert doctor_join(tmp_path, port, OWN_ID, "Wrong1Wrong2").startswith("FAIL")
    finally:
        err = stop(sim)
    assert OWN_ID not in err and OWN_PASSWORD not in err
    assert "32 characters" in err


def test_without_credentials_the_demo_ones_are_named(tmp_path: Path) -> None:
    sim, port = start(tmp_path, _clean_env())
    try:
        assert doctor_join(tmp_path, port, DEMO_RBID, DEMO_PASSWORD).startswith("OK")
    finally:
        err = stop(sim)
    assert DEMO_RBID in err and DEMO_PASSWORD in err
