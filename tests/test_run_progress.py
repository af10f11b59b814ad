"""``run`` tells a person what it is doing before the first reading: the real process on a
terminal (a pty) shows scan progress within a few seconds and then at least every few seconds,
the join, and the first reading."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_"))}
    for key in ("STATE_DIR", "DEBUG"):
        env.pop(key, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.slow
def test_run_on_a_terminal_shows_progress_until_the_first_reading(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "logger", "run", "--simulate"], cwd=tmp_path, env=_env(),
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    start = time.monotonic()
    lines: list[tuple[float, str]] = []
    buf = b""
    try:
        while time.monotonic() - start < 90 and not any("first reading recorded" in t for _, t in lines):
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                buf += chunk
                *done, buf = buf.split(b"\n")
                now = time.monotonic() - start
                lines.extend((now, d.decode("utf-8", "replace").strip()) for d in done)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        os.close(master)
    text = "\n".join(t for _, t in lines)
    first_scan = next(at for at, t in lines if "scanning" in t)
    assert first_scan < 5.0, text
    first_reading = next(at for at, t in lines if "first reading recorded" in t)
    assert "joining" in text, text
    # between the first scan line and the first reading, never more than ~5 s without a line
    times = [at for at, _t in lines if first_scan <= at <= first_reading]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) <= 6.5, (gaps, text)  # 3 s apart, with room for a busy machine
    assert any("channels" in t and "s left" in t for _, t in lines), text
    assert proc.returncode == 0
