"""Serial faults seen by ``smartmeter-logger run`` itself (not doctor): a device that answers
garbage (wrong baud rate, not a dongle), a port another program holds, a port that does not
exist. The logger says what is wrong and how to fix it, keeps retrying, and stops cleanly."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

from privileges import unprivileged as drop_root_bypass

RBID = "0123456789ABCDEF0123456789ABCDEF"
PASSWORD = "SIMPASSWORD1"


def start_run(tmp_path: Path, port: str, unprivileged: bool = False) -> subprocess.Popen:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8", "SERIAL_PORT": port,
           "BROUTE_ID": RBID, "BROUTE_PASSWORD": PASSWORD, "CSV_DIR": str(tmp_path / "data"),
           "STATE_DIR": str(tmp_path / "state")}
    argv = [sys.executable, "-m", "logger", "run"]
    return subprocess.Popen(drop_root_bypass(argv) if unprivileged else argv, cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(proc: subprocess.Popen, needle: str, timeout: float = 40.0) -> str:
    """Read stderr until ``needle`` shows up (bounded); returns what was read."""
    seen = []
    end = time.monotonic() + timeout
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    while time.monotonic() < end:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            chunk = proc.stderr.read()
            if chunk:
                seen.append(chunk)
                if needle in "".join(seen):
                    return "".join(seen)
    raise AssertionError(f"{needle!r} not logged within {timeout} s; got:\n{''.join(seen)}")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_device_answering_garbage_is_named_and_retried(tmp_path):
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    stop_flag = threading.Event()

    def noisy_device() -> None:  # answers everything with line noise, like a wrong baud rate
        while not stop_flag.is_set():
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    os.read(master, 4096)
                    os.write(master, b"\xf0\x0f\x99~~\x80garbage\x00\xff\r\n")
                except OSError:
                    return

    thread = threading.Thread(target=noisy_device, daemon=True)
    thread.start()
    proc = start_run(tmp_path, path)
    try:
        text = wait_for(proc, "is this an SKSTACK-IP dongle? check SERIAL_PORT and baud rate")
        assert "reopening the port" in text
        assert proc.poll() is None  # still running, retrying with back-off
    finally:
        code = stop(proc)
        stop_flag.set()
        thread.join(timeout=5)
        os.close(master)
        os.close(slave)
    assert code == 0
    assert RBID not in text and PASSWORD not in text


def test_a_port_held_by_another_program_is_reported(tmp_path):
    master, slave = os.openpty()
    path = os.ttyname(slave)
    holder = os.open(path, os.O_RDWR | os.O_NOCTTY)
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what another pyserial program with exclusive=True holds
    proc = start_run(tmp_path, path)
    try:
        text = wait_for(proc, "retrying in")
        assert "held by another program" in text
        assert proc.poll() is None
    finally:
        code = stop(proc)
        os.close(holder)
        os.close(master)
        os.close(slave)
    assert code == 0


def test_a_missing_port_says_plug_it_in_and_keeps_trying(tmp_path):
    proc = start_run(tmp_path, "/dev/ttyUSB-does-not-exist")
    try:
        text = wait_for(proc, "does not exist")
        assert "is the dongle plugged in?" in text and "SERIAL_PORT" in text
        assert proc.poll() is None
    finally:
        assert stop(proc) == 0


def test_a_port_without_permission_names_the_dialout_group_and_keeps_trying(tmp_path):
    fake = tmp_path / "ttyFAKE"
    fake.write_text("")
    fake.chmod(0)  # like /dev/ttyUSB0 for a user outside the dialout group
    proc = start_run(tmp_path, str(fake), unprivileged=True)  # as root too: see tests/privileges.py
    try:
        text = wait_for(proc, "retrying in")
        assert f"permission denied on {fake}" in text and "usermod -aG dialout" in text
        assert proc.poll() is None
    finally:
        assert stop(proc) == 0
