"""One rule for the B-route ID and password (logger.skstack.credentials), applied the same way by
config, doctor's credentials check and the SKSETPWD/SKSETRBID builders; and through the real
command line: a bad password exits 2 with one line naming ``broute.password``, never the value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_hardening_secrets import _env

from logger.config import ConfigError, load_settings
from logger.diagnose import FAIL, OK, check_credentials
from logger.secrets import Secret
from logger.skstack import commands
from logger.skstack.credentials import (
    PASSWORD_LEN,
    RBID_LEN,
    CredentialError,
    check_password,
    check_rbid,
)

RBID = "7f3Q9c2LmX8v1KpZ4rT6yB0wN5hJ2dAe"
PASSWORD = "FAKEtestPW01"  # a fake, obviously; distinctive so a leak would be found
#: printable ASCII, 12 characters: accepted by config before, refused by the command builder
DASHED = "ABCD-EFGH!JK"
assert len(RBID) == RBID_LEN and len(PASSWORD) == PASSWORD_LEN


def _windows(secret: str, size: int = 6) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def _assert_hidden(secret: str, *texts: str) -> None:
    for text in texts:
        assert not any(w in text for w in _windows(secret)), "a part of the secret was shown"


# ---------------------------------------------------------------------- the validator


def test_valid_values_are_returned_unchanged():
    assert check_rbid(RBID) == RBID
    assert check_password(PASSWORD) == PASSWORD


@pytest.mark.parametrize(
    ("check", "value", "length", "position"),
    [
        (check_password, PASSWORD[:11], 11, None),
        (check_password, PASSWORD + "Z", 13, None),
        (check_password, "", 0, None),
        (check_password, DASHED, None, 5),
        (check_password, PASSWORD[:6] + " " + PASSWORD[7:], None, 7),
        (check_password, PASSWORD[:2] + "\u00e9" + PASSWORD[3:], None, 3),  # a letter, but not ASCII
        (check_rbid, RBID[:31], 31, None),
        (check_rbid, RBID[:10] + '"' + RBID[11:], None, 11),
    ],
)
def test_problems_name_length_or_position_never_the_value(check, value, length, position):
    with pytest.raises(CredentialError) as info:
        check(value)
    err = info.value
    assert err.position == position
    if length is not None:
        assert f"(got {length})" in err.problem
    else:
        assert f"position {position}" in err.problem
    assert err.fix and "\n" not in str(err)
    if value:
        _assert_hidden(value, str(err), repr(err))


def test_non_text_is_refused():
    with pytest.raises(CredentialError) as info:
        check_password(123456789012)
    assert info.value.problem == "must be text"


# ---------------------------------------------------------------------- the same verdict everywhere

SAMPLES = [
    ("id", RBID, True), ("id", RBID[:31], False), ("id", RBID[:31] + "!", False),
    ("password", PASSWORD, True), ("password", DASHED, False), ("password", PASSWORD[:8], False),
    ("password", "Pw-12345678x", False),
]


@pytest.mark.parametrize(("which", "value", "valid"), SAMPLES)
def test_config_doctor_and_command_builder_agree(tmp_path, which, value, valid):
    env = {"BROUTE_ID": RBID, "BROUTE_PASSWORD": PASSWORD}
    env["BROUTE_ID" if which == "id" else "BROUTE_PASSWORD"] = value
    try:
        load_settings(None, env=env, dotenv=None, check_dirs=False)
        config_ok = True
    except ConfigError as exc:
        assert exc.key == f"broute.{which}"
        config_ok = False
    build = commands.sksetrbid if which == "id" else commands.sksetpwd
    try:
        build(value)
        builder_ok = True
    except commands.CommandError:
        builder_ok = False
    doctor = check_credentials(Secret(env["BROUTE_ID"]), Secret(env["BROUTE_PASSWORD"]))
    assert (config_ok, builder_ok, doctor.status == OK) == (valid, valid, valid)


def test_config_refuses_a_dashed_password_naming_the_key_and_the_fix(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(None, env={"BROUTE_ID": RBID, "BROUTE_PASSWORD": DASHED}, dotenv=None, check_dirs=False)
    err = info.value
    assert err.key == "broute.password"
    assert "position 5" in err.problem
    assert "BROUTE_PASSWORD" in err.fix and "letter" in err.fix
    _assert_hidden(DASHED, str(err), repr(err))


def test_doctor_check_is_a_config_error_with_lengths_only():
    bad = check_credentials(Secret(RBID[:30]), Secret(DASHED))
    assert bad.status == FAIL and bad.config_error
    assert "BROUTE_ID" in bad.found and "(got 30)" in bad.found and "BROUTE_PASSWORD" in bad.found
    _assert_hidden(RBID, bad.line())
    _assert_hidden(DASHED, bad.line())
    unset = check_credentials(None, Secret(""))
    assert unset.status == FAIL and unset.config_error
    assert "BROUTE_ID is not set" in unset.found and "BROUTE_PASSWORD is not set" in unset.found
    ok = check_credentials(Secret(RBID), Secret(PASSWORD))
    assert ok.status == OK and "32 characters" in ok.found and "12 characters" in ok.found
    _assert_hidden(RBID, ok.line())
    _assert_hidden(PASSWORD, ok.line())


# ---------------------------------------------------------------------- the real processes

#: how a user starts the logger: ``python -m logger`` and the installed console script
#: (run through its entry point so the test does not depend on PATH)
ENTRY_POINT = ("from importlib.metadata import entry_points; "
               "raise SystemExit(entry_points(group='console_scripts')['smartmeter-logger'].load()())")
STARTS = {"python -m logger": [sys.executable, "-m", "logger"],
          "smartmeter-logger": [sys.executable, "-c", ENTRY_POINT]}


CREDENTIALS_ENV = {"BROUTE_ID": RBID, "BROUTE_PASSWORD": DASHED, "SERIAL_PORT": "/dev/ttyUSB-not-there"}


def _start(tmp_path: Path, start: str, *args: str) -> subprocess.CompletedProcess:
    # the values go in the environment, never on the command line; a mapping, not NAME=value (see
    # test_hardening_secrets: the repository's secret scan looks for that)
    env = _env(**CREDENTIALS_ENV)
    return subprocess.run([*STARTS[start], *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize("start", list(STARTS))
def test_run_with_a_bad_password_exits_2_with_one_line_naming_the_key(tmp_path, start):
    proc = _start(tmp_path, start, "run")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("config error: broute.password: "), proc.stderr
    assert "BROUTE_PASSWORD" in lines[0]
    assert proc.stdout == ""
    _assert_hidden(DASHED, proc.stdout, proc.stderr)
    _assert_hidden(RBID, proc.stdout, proc.stderr)
    assert not (tmp_path / "data").exists() and not (tmp_path / "state").exists()  # nothing started


def test_doctor_with_a_bad_password_fails_the_credentials_with_exit_2(tmp_path):
    proc = _start(tmp_path, "python -m logger", "doctor", "--no-scan")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert any("broute.password" in line or "BROUTE_PASSWORD" in line for line in failed), proc.stdout
    assert "Traceback" not in proc.stderr
    _assert_hidden(DASHED, proc.stdout, proc.stderr)
    _assert_hidden(RBID, proc.stdout, proc.stderr)
