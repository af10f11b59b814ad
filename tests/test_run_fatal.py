"""Errors that retrying cannot fix stop ``run`` with one clear line (exit 2) instead of
reopening the port again and again — through the real process a user starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_"))}
    for key in ("STATE_DIR", "DEBUG"):
        env.pop(key, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_a_dongle_of_another_family_than_configured_stops_run_with_the_fix(tmp_path: Path) -> None:
    """serial.dongle says single stack (bp35a1) but the stick is dual stack (BP35C0): SKSCAN
    answers FAIL ER05 for the missing SIDE argument. No retry can fix that."""
    cfg = tmp_path / "settings.yml"
    cfg.write_text("serial:\n  dongle: bp35a1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "logger", "run", "--config", str(cfg), "--simulate", "--dongle", "bp35c0"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "serial.dongle" in last and "ER05" in last
    assert "reopening the port" not in proc.stderr
    assert "Traceback" not in proc.stderr
