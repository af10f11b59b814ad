"""``smartmeter-logger run`` as a subprocess: config errors, and ``--simulate`` in real time."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_"))}
    env.pop("STATE_DIR", None)
    env.pop("DEBUG", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.parametrize(
    "yaml_text,key",
    [
        ("session:\n  max_epcs_per_get: 99\n", "session.max_epcs_per_get"),
        ("schedule:\n  - {epc: [E7], cycle: 1}\n", "schedule"),
    ],
)
def test_config_error_exit_code_2_one_line_naming_the_key(tmp_path, yaml_text, key):
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml_text)
    proc = subprocess.run(
        [sys.executable, "-m", "logger", "run", "--config", str(bad), "--simulate"],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("config error:") and key in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_credentials_without_simulate_exit_code_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "logger", "run", "--env-file", str(tmp_path / "none.env")],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "BROUTE" in line


@pytest.mark.slow
def test_run_simulate_from_a_fresh_directory_then_sigterm(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "logger", "run", "--simulate"],
        cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a bound, not an expectation: ~20 s unloaded
        found = False
        while time.monotonic() < deadline and proc.poll() is None and not found:
            time.sleep(0.5)
            for f in (tmp_path / "data").glob("*.csv"):
                found = found or any(",E7," in line for line in f.read_text().splitlines())
        assert found, "no E7 row within the bound"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "SIGTERM received" in err and "stopped:" in err
    for f in (tmp_path / "data").glob("*.csv"):
        raw = f.read_bytes()
        assert raw.endswith(b"\n")  # whole lines only
        rows = list(csv.reader(raw.decode().splitlines()))
        assert rows[0] == ["timestamp", "unitid", "epc", "dataid", "value"]
        assert all(len(r) == 5 for r in rows)
    assert (tmp_path / "state" / "scan.json").is_file()
    assert (tmp_path / "state" / "heartbeat").is_file()
