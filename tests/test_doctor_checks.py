"""Doctor's checks that do not talk to the dongle: credentials, port, directories, exit codes."""

from __future__ import annotations

import errno
from pathlib import Path

from logger.diagnose import (
    FAIL,
    OK,
    WARN,
    Check,
    check_credentials,
    check_directory,
    exit_code,
    explain_port_error,
    port_precheck,
)
from logger.secrets import Secret


# ------------------------------------------------------------------ pure checks


def test_credentials_report_lengths_only() -> None:
    rbid, pwd = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6", "Pw1234567890"
    ok = check_credentials(Secret(rbid), Secret(pwd))
    assert ok.status == OK and "32 characters" in ok.found and "12 characters" in ok.found
    bad = check_credentials(Secret(rbid[:30]), None)
    assert bad.status == FAIL and bad.config_error
    assert "BROUTE_ID" in bad.found and "30" in bad.found and "BROUTE_PASSWORD is not set" in bad.found
    for c in (ok, bad):
        assert rbid[:8] not in c.line() and rbid[-8:] not in c.line() and pwd[:6] not in c.line()


def test_permission_message_names_dialout_and_docker() -> None:
    # The real chmod-000 case is in test_doctor_cli.py (skipped as root: root ignores permissions).
    found, fix = explain_port_error("/dev/ttyUSB0", PermissionError(errno.EACCES, "Permission denied"))
    assert "permission denied" in found
    assert "sudo usermod -aG dialout $USER, then log in again" in fix
    assert "group_add" in fix and "devices" in fix


def test_missing_and_busy_port_messages() -> None:
    check = port_precheck("/dev/does-not-exist-doctor")
    assert check is not None and check.status == FAIL and "plugged in?" in check.fix
    found, fix = explain_port_error("/dev/ttyUSB0", OSError(errno.EAGAIN, "Could not exclusively lock port"))
    assert "held by another program" in found and "fuser" in fix
    unset = port_precheck(None)
    assert unset is not None and unset.config_error and "SERIAL_PORT" in unset.fix
    assert port_precheck("socket://127.0.0.1:1") is None


def test_directory_checks(tmp_path: Path) -> None:
    assert check_directory("csv directory", "CSV_DIR", tmp_path).status == OK
    assert "will be created" in check_directory("csv directory", "CSV_DIR", tmp_path / "a" / "b").found
    blocker = tmp_path / "file"
    blocker.write_text("x")
    c = check_directory("csv directory", "CSV_DIR", blocker / "data")
    assert c.status == FAIL and "not a directory" in c.found and "CSV_DIR" in c.fix
    assert list(tmp_path.iterdir()) == [blocker]  # the probe file was removed, nothing created


def test_exit_codes() -> None:
    assert exit_code([Check("a", OK, ""), Check("b", WARN, "")]) == 0
    assert exit_code([Check("a", FAIL, "")]) == 1
    assert exit_code([Check("a", FAIL, ""), Check("b", FAIL, "", config_error=True)]) == 2
