"""``scripts/test-services.sh``: one build at a time per cache, and a failed build names the
program and its log. Run for real (the cached binaries make the locked run quick)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "test-services.sh"


def _deps() -> Path:
    out = subprocess.run([str(SCRIPT), "--print"], capture_output=True, text=True, check=True).stdout
    telegraf = Path(dict(line.split("=", 1) for line in out.split())["TELEGRAF_BIN"])
    return telegraf.parents[2]


def test_a_second_run_waits_for_the_lock_and_says_so() -> None:
    deps = _deps()
    deps.joinpath("logs").mkdir(parents=True, exist_ok=True)
    lock = deps / ".build.lock"
    # another build holds the cache's lock for 3 s
    holder = subprocess.Popen(["flock", str(lock), "sleep", "3"])
    try:
        time.sleep(0.5)
        start = time.monotonic()
        proc = subprocess.run([str(SCRIPT), "telegraf"], capture_output=True, text=True, timeout=600, check=False)
        waited = time.monotonic() - start
    finally:
        holder.wait(timeout=10)
    assert proc.returncode == 0, proc.stderr
    assert "waiting for it" in proc.stderr and str(lock) in proc.stderr
    assert waited >= 2.0  # it really waited for the holder
    assert "cached at" in proc.stderr or "telegraf ready" in proc.stderr


def test_a_failed_build_names_the_program_and_its_log(tmp_path: Path) -> None:
    env = {**os.environ, "SMARTMETER_DEPS": str(tmp_path / "deps"), "TELEGRAF_VERSION": "v0.0.0-does-not-exist"}
    proc = subprocess.run([str(SCRIPT), "telegraf"], capture_output=True, text=True, timeout=600, env=env,
                          check=False)
    assert proc.returncode != 0
    log = tmp_path / "deps" / "logs" / "telegraf-build.log"
    assert "telegraf build failed" in proc.stderr and "go install" in proc.stderr
    assert str(log) in proc.stderr and log.exists()


def test_flock_is_available() -> None:
    assert shutil.which("flock"), "util-linux (flock) is installed by scripts/test.sh"
