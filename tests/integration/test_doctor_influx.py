"""``smartmeter-logger doctor --influxdb`` against the real influxd (fixture ``influxdb``):
a write token passes, a read-only token and a bogus token fail with the ``influx auth create``
fix, and no token ever appears in the output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID

pytestmark = pytest.mark.integration

LIMIT = 120  # seconds, an upper bound for the subprocess (never asserted on)


def doctor(tmp_path: Path, url: str, token: str, org: str, bucket: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_"))}
    env.update({"INFLUXDB_URL": url, "INFLUXDB_TOKEN": token, "INFLUXDB_ORG": org, "INFLUXDB_BUCKET": bucket,
                "INFLUXDB_ENABLED": "true", "SERIAL_PORT": "/dev/ttyUSB-doctor-missing",
                "BROUTE_ID": DEMO_RBID, "BROUTE_PASSWORD": DEMO_PASSWORD,
                "CSV_DIR": str(tmp_path / "data"), "STATE_DIR": str(tmp_path / "state"), "DEBUG": "1"})
    return subprocess.run([sys.executable, "-m", "logger", "doctor", "--show-config"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=LIMIT, check=False)


def line(result: subprocess.CompletedProcess, name: str) -> str:
    found = [ln for ln in result.stdout.splitlines() if ln[5:].startswith(name + ":")]
    assert found, result.stdout + result.stderr
    return found[-1]


def test_write_token_passes(influxdb, bucket, tmp_path):
    token = influxdb.create_token("doctor write", [("write", bucket)])
    result = doctor(tmp_path, influxdb.url, token, influxdb.org, bucket)
    assert line(result, "influxdb").startswith("OK") and "pass" in line(result, "influxdb")
    assert line(result, "influxdb write").startswith("OK")
    assert f"bucket {bucket!r}" in line(result, "influxdb write")
    assert token not in result.stdout + result.stderr
    assert influxdb.count(bucket) == 0  # the check stores nothing


def test_read_only_token_fails_with_the_auth_create_fix(influxdb, bucket, tmp_path):
    token = influxdb.create_token("doctor read only", [("read", bucket)])
    result = doctor(tmp_path, influxdb.url, token, influxdb.org, bucket)
    assert result.returncode == 1  # a FAIL, not a configuration error
    write = line(result, "influxdb write")
    assert write.startswith("FAIL") and f"may not write to bucket {bucket!r}" in write
    assert f"influx auth create --org {influxdb.org} --write-bucket" in write
    assert token not in result.stdout + result.stderr


def test_unknown_token_is_rejected(influxdb, bucket, tmp_path):
    token = "not-a-real-token-" + "x" * 40
    result = doctor(tmp_path, influxdb.url, token, influxdb.org, bucket)
    write = line(result, "influxdb write")
    assert write.startswith("FAIL") and "rejected (HTTP 401" in write and "influx auth create" in write
    assert token not in result.stdout + result.stderr
    assert influxdb.token not in result.stdout + result.stderr
