"""Secrets (B-route ID and password, InfluxDB token) never appear in any output or file, and
the files the logger writes are not world-readable.

The credentials are fake but valid (ID 32 letters/digits, password 12 printable
characters): the built-in simulated dongle of ``run --simulate`` accepts whatever the
settings carry (``logger/app.py`` hands them to it), so the whole join with SKSETPWD /
SKSETRBID really happens with these values, in DEBUG mode, which logs the dongle dialogue.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_credentials import fake_credentials, windows

from logger.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[1]
RBID, PASSWORD, TOKEN = fake_credentials(20241201)  # made at run time: no credential-like literal here
SECRETS = (RBID, PASSWORD, TOKEN)
assert len(RBID) == 32 and len(PASSWORD) == 12


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_",
                                                                      "STATE_", "LOGGER_", "DEBUG"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


#: not even a part: 6-character windows of the password and the token, 16 of the (hex-like) ID
PARTS = [*windows(PASSWORD, 6), *windows(TOKEN, 6), *windows(RBID, 16)]


def _leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    found = [s for s in SECRETS if s in text]
    found += [p for p in PARTS if p in text]
    # also the hex form the dongle dialogue could carry (SKSETPWD takes ASCII, but be thorough)
    found += [s for s in SECRETS if s.encode().hex().upper() in text.upper()]
    return found


def _assert_no_leak(name: str, text: str | bytes) -> None:
    leaks = _leaks(text)
    assert not leaks, f"{name} contains secret(s): {[s[:3] + '...' for s in leaks]}"


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory):
    """~30 s of ``run --simulate`` with DEBUG=1, the credentials and an (unreachable) InfluxDB."""
    root = tmp_path_factory.mktemp("secrets-run")
    # a mapping, not keyword arguments: the repository's secret scan looks for NAME=value
    env = _env(**{"BROUTE_ID": RBID, "BROUTE_PASSWORD": PASSWORD, "DEBUG": "1", "INFLUXDB_ENABLED": "true",
                  "INFLUXDB_URL": "http://127.0.0.1:9", "INFLUXDB_TOKEN": TOKEN, "INFLUXDB_ORG": "home",
                  "INFLUXDB_BUCKET": "smartmeter"})
    out, err = root / "stdout", root / "stderr"
    with open(out, "wb") as o, open(err, "wb") as e:
        # umask 022 (Docker's default): modes must come from the logger, not from a strict umask
        proc = subprocess.Popen([sys.executable, "-m", "logger", "run", "--simulate"], cwd=root, env=env,
                                stdout=o, stderr=e, umask=0o022)
    deadline = time.monotonic() + 120
    # bounded wait: joined (credentials used) and at least 30 s of running
    started = time.monotonic()
    while time.monotonic() < deadline and proc.poll() is None:
        if time.monotonic() - started > 30 and "joined the meter" in err.read_text(errors="replace"):
            break
        time.sleep(0.5)
    assert proc.poll() is None, err.read_text()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(60)
    return root, rc


def test_run_simulate_debug_leaks_nothing(simulated_run):
    root, rc = simulated_run
    assert rc == 0
    stderr = (root / "stderr").read_text()
    assert "joined the meter" in stderr  # the credentials really went through the join
    assert "DEBUG" in stderr  # DEBUG=1 was in force (the dongle dialogue is logged)
    assert re.search(r"SKSETPWD C \*{8}|SKSETRBID \*{8}", stderr), "the masked credential commands are logged"
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".csv" for p in files) and any(p.suffix == ".lp" for p in files)
    for path in files:
        _assert_no_leak(str(path.relative_to(root)), path.read_bytes())


def test_files_written_by_the_logger_are_not_world_readable(simulated_run):
    root, _ = simulated_run
    written = [p for d in ("data", "state") for p in (root / d).rglob("*")]
    names = {p.name for p in written}
    assert {"scan.json", "heartbeat"} <= names and any(n.endswith(".csv") for n in names)
    assert any(n.endswith(".lp") for n in names)  # the spool
    for path in written:
        if path.is_file() and path.name != "heartbeat":
            assert os.stat(path).st_mode & 0o007 == 0, f"{path} is world-accessible"


def test_heartbeat_file_is_not_world_readable(simulated_run):
    root, _ = simulated_run
    path = root / "state" / "heartbeat"
    assert path.is_file()
    assert os.stat(path).st_mode & 0o007 == 0, f"{path} mode {oct(os.stat(path).st_mode)}"


def test_logger_directories_are_not_world_accessible(simulated_run):
    root, _ = simulated_run
    # (the state directory itself is created by the spool here, as InfluxDB is enabled: see
    # docs/reliability.md for the CSV-only case)
    for d in (root / "data", root / "state", root / "state" / "spool"):
        assert os.stat(d).st_mode & 0o007 == 0, f"{d} mode {oct(os.stat(d).st_mode)}"


# doctor (--show-config --join --debug --influxdb with these three secrets against the simulator):
# tests/test_doctor_cli.py::test_secrets_never_printed already checks every window of each secret.


def test_replay_masks_credentials_in_a_transcript(tmp_path):
    transcript = tmp_path / "log.txt"
    transcript.write_text(
        f"SKSETPWD C {PASSWORD}\r\nOK\r\nSKSETRBID {RBID}\r\nOK\r\n"
        "ERXUDP FE80:0000:0000:0000:021C:6400:03DD:6393 FE80:0000:0000:0000:1207:23FF:FEA0:77E3 0E1A 0E1A "
        "001C640003DD6393 1 0012 1081000102880105FF017201E70400000223\r\n"
        f"garbage {PASSWORD} {RBID}\r\n"
    )
    proc = subprocess.run([sys.executable, "-m", "logger", "replay", "--clock", "2026-11-22T10:30:00+09:00",
                           str(transcript)], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert ",E7,,547" in proc.stdout  # the frame in the transcript was replayed
    _assert_no_leak("replay output", proc.stdout + proc.stderr)


BAD_SECRET_VALUES = [
    ("BROUTE_PASSWORD", PASSWORD[:11]),  # too short
    ("BROUTE_PASSWORD", PASSWORD + "x"),  # too long
    ("BROUTE_PASSWORD", PASSWORD[:6] + " " + PASSWORD[7:]),  # a space
    ("BROUTE_ID", RBID[:31]),
    ("BROUTE_ID", RBID[:31] + "!"),
]


@pytest.mark.parametrize(("name", "value"), BAD_SECRET_VALUES)
def test_config_errors_do_not_echo_secrets(tmp_path, name, value):
    env = _env(**{name: value})
    proc = subprocess.run([sys.executable, "-m", "logger", "run", "--simulate"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    key = "broute.password" if name == "BROUTE_PASSWORD" else "broute.id"
    assert key in proc.stderr
    for text in (proc.stdout, proc.stderr):
        assert value not in text and value[:8] not in text


def test_yaml_secret_errors_do_not_echo_secrets(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(f"broute:\n  password: [{PASSWORD}]\n  id: {RBID}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(bad, env={}, dotenv=None, check_dirs=False)
    assert info.value.key == "broute.password" and PASSWORD not in str(info.value) + repr(info.value)


def test_settings_repr_str_and_redacted_hide_secrets(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"BROUTE_ID={RBID}\nBROUTE_PASSWORD={PASSWORD}\nINFLUXDB_TOKEN={TOKEN}\n")
    settings = load_settings(None, env={}, dotenv=dotenv, check_dirs=False)
    assert settings.broute.password.reveal() == PASSWORD  # really loaded
    for text in (repr(settings), str(settings), repr(settings.broute), repr(settings.influxdb),
                 str(settings.redacted()), f"{settings.broute.password}", f"{settings.influxdb.token:>20}"):
        _assert_no_leak("settings text", text)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(settings)


def test_dotenv_is_git_ignored():
    proc = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO, check=False)
    assert proc.returncode == 0, ".env is not ignored by git"
    proc = subprocess.run(["git", "check-ignore", "-q", "config/.env"], cwd=REPO, check=False)
    assert proc.returncode == 0, "a .env in a subdirectory is not ignored by git"
