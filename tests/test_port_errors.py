"""One explanation of a port that will not open (logger.port_errors), used by ``run``'s transport,
the extra sensors and doctor: each cause gets its own found/fix pair, from the errno or from the
real exception pyserial raises."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from privileges import unprivileged

from logger.clock import RealClock
from logger.diagnose import port_failed, port_precheck
from logger.port_errors import explain_port_error
from logger.transport import SerialTransport, TransportError, explain_open_error

REPO = Path(__file__).resolve().parents[1]

# (exception, words in what was found, words in the fix)
CASES = {
    "ENOENT": (FileNotFoundError(errno.ENOENT, "No such file or directory"), "does not exist",
               "plugged in"),
    "EACCES": (PermissionError(errno.EACCES, "Permission denied"), "permission denied",
               "usermod -aG dialout"),
    "EBUSY": (OSError(errno.EBUSY, "Device or resource busy"), "held by another program", "fuser"),
    "EAGAIN lock": (OSError(errno.EAGAIN, "Could not exclusively lock port"), "held by another program", "fuser"),
    "ENOTTY": (OSError(errno.ENOTTY, "Inappropriate ioctl for device"), "not a serial device", "tty"),
    "refused": (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "connection refused",
                "listening"),
    "bad URL": (ValueError("invalid URL, protocol 'bogus' not known"), "not a valid port name or URL",
                "socket://HOST:PORT"),
}


@pytest.mark.parametrize("cause", list(CASES))
def test_each_cause_has_its_own_found_and_fix(cause):
    exc, found_words, fix_words = CASES[cause]
    found, fix = explain_port_error("/dev/ttyUSB0", exc)
    assert "/dev/ttyUSB0" in found and found_words in found
    assert fix_words in fix
    others = [CASES[c][1] for c in CASES if CASES[c][1] != found_words]
    assert not any(words in found for words in others)


def test_permission_fix_names_the_dialout_group_and_docker():
    _found, fix = explain_port_error("/dev/ttyUSB0", PermissionError(errno.EACCES, "Permission denied"))
    assert "sudo usermod -aG dialout $USER, then log in again" in fix
    assert "group_add" in fix and "devices" in fix


def test_where_the_port_is_set_and_what_device_are_named():
    _found, fix = explain_port_error("/dev/ttyACM9", FileNotFoundError(errno.ENOENT, "No such file"),
                                     "the sensor's port in settings.yml", "sensor")
    assert "is the sensor plugged in?" in fix and "the sensor's port in settings.yml" in fix
    _found, fix = explain_port_error("/dev/ttyUSB0", FileNotFoundError(errno.ENOENT, "No such file"))
    assert "is the dongle plugged in?" in fix and "SERIAL_PORT" in fix


def test_transport_message_is_the_same_pair_on_one_line():
    exc = OSError(errno.EBUSY, "busy")
    found, fix = explain_port_error("/dev/ttyUSB0", exc)
    assert explain_open_error("/dev/ttyUSB0", exc) == f"{found}: {fix}"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _open_fails(port: str) -> TransportError:
    with pytest.raises(TransportError) as info:
        SerialTransport(port, 115200, RealClock())
    return info.value


@pytest.mark.parametrize(
    ("cause", "port"),
    [("ENOENT", "/dev/ttyUSB-does-not-exist"), ("ENOTTY", "/dev/null"), ("refused", None),
     ("bad URL", "bogus://x")],
)
def test_real_open_failures_run_and_doctor_agree(cause, port):
    port = port or f"socket://127.0.0.1:{_closed_port()}"
    err = _open_fails(port)
    check = port_failed(port, err)
    assert check.status == "FAIL"
    assert str(err) == f"{check.found}: {check.fix}"  # run and doctor say the same thing
    assert CASES[cause][1] in check.found


def test_real_port_held_by_another_program():
    master, slave = os.openpty()
    path = os.ttyname(slave)
    holder = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what another pyserial program with exclusive=True holds
        err = _open_fails(path)
    finally:
        for fd in (holder, master, slave):
            os.close(fd)
    assert "held by another program" in str(err) and "fuser -v" in str(err)


def test_real_permission_denied(tmp_path):
    fake = tmp_path / "ttyUSB0"
    fake.write_bytes(b"")
    fake.chmod(0)
    code = ("import sys; from logger.clock import RealClock; from logger.transport import SerialTransport, "
            "TransportError\ntry:\n    SerialTransport(sys.argv[1], 115200, RealClock())\n"
            "except TransportError as exc:\n    print(exc)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(unprivileged([sys.executable, "-c", code, str(fake)]), env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"permission denied on {fake}" in proc.stdout and "dialout" in proc.stdout


def test_doctor_precheck_uses_the_same_explanation(tmp_path):
    check = port_precheck(str(tmp_path / "ttyUSB-none"))
    assert check is not None and check.status == "FAIL"
    found, fix = explain_port_error(str(tmp_path / "ttyUSB-none"), FileNotFoundError(errno.ENOENT, "No such file"))
    assert (check.found, check.fix) == (found, fix)
