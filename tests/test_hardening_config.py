"""Every invalid setting is refused with exit code 2 and a message naming the key.

The bulk of the invalid cases lives in ``tests/test_config_settings.py`` (``BAD``); this file
adds the keys that table does not cover, checks that together they cover *every* key of
``logger.config``, and runs a handful of them through the real command line
(``python -m logger run --config bad.yml``) for the exit code and the one-line message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_config_settings import BAD

from logger import config
from logger.config import ConfigError, load_settings

# BAD comes from tests/test_config_settings.py (tests/ is on sys.path, not a package): reused, not copied.
REPO = Path(__file__).resolve().parents[1]

# (yaml, env, key, words in message) - keys and mistakes BAD does not have
EXTRA = [
    ("meter:\n  unitid: a b\n", {}, "meter.unitid", "without spaces"),
    ("", {"LOGGER_UNITID": "x,y"}, "meter.unitid", "commas"),
    ("serial:\n  port: [/dev/ttyUSB0]\n", {}, "serial.port", "must be a string"),
    ("serial:\n  baudrate: 300\n", {}, "serial.baudrate", "at least 1200"),
    ("session:\n  state_dir: null\n", {}, "session.state_dir", "must not be empty"),
    ("session:\n  scan_duration_max: 15\n", {}, "session.scan_duration_max", "0..14"),
    ("session:\n  scan_duration_min: -1\n", {}, "session.scan_duration_min", "0..14"),
    ("session:\n  request_timeout_s: 0\n", {}, "session.request_timeout_s", "at least 1"),
    ("session:\n  request_timeout_s: soon\n", {}, "session.request_timeout_s", "must be a number"),
    ("session:\n  retries: -1\n", {}, "session.retries", "at least 0"),
    ("session:\n  backfill: \"yes\"\n", {}, "session.backfill", "true or false"),
    ("session:\n  terminate_on_stop: 2\n", {}, "session.terminate_on_stop", "true or false"),
    ("session:\n  silence_rejoin_s: -5\n", {}, "session.silence_rejoin_s", "at least 0"),
    ("meter:\n  clock_tolerance_s: -1\n", {}, "meter.clock_tolerance_s", "at least 0"),
    ("sensors: {port: x}\n", {}, "sensors", "list"),
    ("sensors:\n  - {unitid: a}\n", {}, "sensors[0].port", "missing"),
    ("sensors:\n  - {port: /dev/x, unitid: \"a b\"}\n", {}, "sensors[0].unitid", "plain name"),
    ("sensors:\n  - {port: /dev/x, unitid: a, baudrate: fast}\n", {}, "sensors[0].baudrate", "positive"),
    ("sensors:\n  - {port: /dev/x, unitid: a, regex: \"(\"}\n", {}, "sensors[0].regex", "not a valid"),
    ("sensors:\n  - {port: /dev/x, unitid: a, regex: \"T=(?P<v>1)\"}\n", {}, "sensors[0].regex", "'value'"),
    ("sensors:\n  - {port: /dev/x, unitid: a, regex: \"T=(?P<value>1)\"}\n", {}, "sensors[0].sensorid",
     "needed"),
    ("sensors:\n  - {port: /dev/x, unitid: a, speed: 3}\n", {}, "sensors[0].speed", "unknown key"),
    ("csv:\n  directory: [a, b]\n", {}, "csv.directory", "must be a string"),
    ("csv:\n  filename: \"%Y/%m.csv\"\n", {}, "csv.filename", "no '/'"),
    ("influxdb:\n  batch_size: 0\n", {}, "influxdb.batch_size", "at least 1"),
    ("influxdb:\n  flush_interval_s: 0\n", {}, "influxdb.flush_interval_s", "at least 0.1"),
    ("influxdb:\n  token: 12345\n", {}, "influxdb.token", "quote it"),
    ("influxdb:\n  spool_dir: 7\n", {}, "influxdb.spool_dir", "must be a string"),
    ("health:\n  heartbeat_file: [x]\n", {}, "health.heartbeat_file", "must be a string"),
    ("health:\n  stale_after_cycles: 0\n", {}, "health.stale_after_cycles", "at least 1"),
    ("health:\n  http: 127.0.0.1:70000\n", {}, "health.http", "host:port"),
    ("web:\n  listen: 8000\n", {}, "web.listen", "must be a string"),
    ("", {"WEB_LISTEN": "localhost"}, "web.listen", "host:port"),
    ("logging:\n  level: 3\n", {}, "logging.level", "must be a string"),
    ("", {"INFLUXDB_ENABLED": "1", "INFLUXDB_URL": "ftp://x", "INFLUXDB_TOKEN": "t", "INFLUXDB_ORG": "o",
          "INFLUXDB_BUCKET": "b"}, "influxdb.url", "http://"),
    ("schedule: {epc: [E7]}\n", {}, "schedule", "non-empty list"),
    ("schedule:\n  - E7\n", {}, "schedule[0]", "mapping"),
    ("schedule:\n  - {cycle: 10}\n", {}, "schedule[0].epc", "missing"),
    ("schedule:\n  - {epc: [], cycle: 10}\n", {}, "schedule[0].epc", "at least one"),
    ("schedule:\n  - {epc: [E7], cycle: 10, at_start: \"yes\"}\n", {}, "schedule[0].at_start", "true or false"),
    ("schedule:\n  - {epc: [E7], cycle: -10}\n", {}, "schedule[0].cycle", "positive"),
    ("acquisition: [E7]\n", {}, "acquisition", "mapping"),
    ("acquisition:\n  properties: [E7]\n", {}, "acquisition", "interval_seconds"),
    ("acquisition:\n  interval_seconds: start\n  properties: [E7]\n", {}, "acquisition.interval_seconds",
     "number of seconds"),
    ("acquisition:\n  interval_seconds: 30\n  properties: [\"ZZ\"]\n", {}, "acquisition.properties", "two hex"),
    ("7\n", {}, "config", "mapping of sections"),
]

# directories: (key, what to put where) - checked by load_settings(check_dirs=True)
DIR_CASES = [
    ("csv.directory", "csv:\n  directory: {blocker}/data\n"),
    ("session.state_dir", "session:\n  state_dir: {blocker}\n"),
    ("influxdb.spool_dir", ("influxdb:\n  enabled: true\n  url: http://x:8086\n  token: t\n  org: o\n  bucket: b\n"
                            "  spool_dir: {blocker}/spool\nsession:\n  state_dir: {ok}\n")),
    ("health.heartbeat_file", "health:\n  heartbeat_file: {blocker}/hb\nsession:\n  state_dir: {ok}\n"),
]


def _load(tmp_path: Path, yml: str, env: dict[str, str], check_dirs: bool = False):
    path = tmp_path / "bad.yml"
    path.write_text(yml)
    return load_settings(path, env=env, dotenv=None, check_dirs=check_dirs)


@pytest.mark.parametrize(("yml", "env", "key", "words"), EXTRA, ids=[f"{c[2]}:{c[3]}" for c in EXTRA])
def test_more_invalid_settings_name_the_key(tmp_path, yml, env, key, words):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, yml, env)
    assert info.value.key == key
    assert str(info.value).startswith(f"config error: {key}: ")
    assert words in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("key", "yml"), DIR_CASES, ids=[c[0] for c in DIR_CASES])
def test_unusable_directories_name_the_key(tmp_path, key, yml):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, yml.format(blocker=blocker, ok=tmp_path / "state"), {"CSV_DIR": str(tmp_path / "d")}
              if key != "csv.directory" else {}, check_dirs=True)
    assert info.value.key == key and "not a directory" in str(info.value)


def test_every_key_has_an_invalid_case():
    covered = {c[2] for c in BAD} | {c[2] for c in EXTRA} | {c[0] for c in DIR_CASES}
    missing = sorted(set(config.KEYS) - covered)
    assert not missing, f"no invalid-value test for {missing}"
    for section in ("schedule", "acquisition", "config"):
        assert section in covered


CLI_CASES = [
    ("serial:\n  baudrate: fast\n", {}, "serial.baudrate"),
    ("schedule:\n  - {epc: [E7], cycle: 2}\n", {}, "schedule[0].cycle"),
    ("meter:\n  unitd: x\n", {}, "meter.unitd"),
    ("meter:\n  unitid: [oops\n", {}, "config"),
    ("", {"BROUTE_PASSWORD": "short123"}, "broute.password"),
    ("influxdb:\n  enabled: true\n", {}, "influxdb.url"),
]


@pytest.mark.parametrize(("yml", "env", "key"), CLI_CASES, ids=[c[2] for c in CLI_CASES])
def test_run_exits_2_with_one_line_naming_the_key(tmp_path, yml, env, key):
    (tmp_path / "bad.yml").write_text(yml)
    clean = {k: v for k, v in os.environ.items() if k not in config.ENV_VARS and k != "DEBUG"}
    clean["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-m", "logger", "run", "--config", "bad.yml"], cwd=tmp_path,
                          env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"config error: {key}: "), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "data").exists() and not (tmp_path / "state").exists()  # nothing started
