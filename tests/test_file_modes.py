"""The modes docs/reliability.md ("File permissions") promises for everything the logger creates,
whatever the umask: CSV files, ``scan.json``, the heartbeat, the spool segments and ``committed``
0640; the CSV directory, the state directory, the spool directory and every parent the logger
creates for them 0750.

Checked on what the real process leaves: ``run --simulate`` started with umask 0 (nothing masked:
every mode must come from the logger) and 022 (Docker's default), with the InfluxDB sink on
against a REAL influxd (``committed`` is only written after a delivery) and its directories
under parents that do not exist yet; and once CSV-only (the state directory is then created by
``scan.json``/the heartbeat, not by the spool).
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from services import InfluxD, ServiceError, require_binary

pytestmark = pytest.mark.integration

FILE_MODE, DIR_MODE = 0o640, 0o750
#: the simulated demo joins and records its first rows after about 25 s
WAIT_S = 120.0
CASES = {"umask-0": (0o000, True), "umask-022": (0o022, True), "csv-only-umask-0": (0o000, False)}


@pytest.fixture(scope="module")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxD]:
    try:
        server = InfluxD(binary=require_binary("INFLUXD_BIN"), workdir=tmp_path_factory.mktemp("influxd"))
        server.start()
        server.setup()
    except ServiceError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


def _env(root: Path, influxdb: InfluxD | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_", "STATE_", "LOGGER_", "DEBUG"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    # parents that do not exist yet: the logger creates them too
    env.update({"CSV_DIR": str(root / "out" / "data"), "STATE_DIR": str(root / "var" / "state")})
    if influxdb is not None:
        env.update({"INFLUXDB_ENABLED": "true", "INFLUXDB_URL": influxdb.url, "INFLUXDB_TOKEN": influxdb.token,
                    "INFLUXDB_ORG": influxdb.org, "INFLUXDB_BUCKET": influxdb.bucket})
    return env


def _ready(root: Path, influx: bool) -> bool:
    data, state = root / "out" / "data", root / "var" / "state"
    csvs = list(data.glob("*.csv")) if data.is_dir() else []
    has_e7 = any(",E7," in p.read_text(errors="replace") for p in csvs)
    needed = [state / "scan.json", state / "heartbeat"] + ([state / "spool" / "committed"] if influx else [])
    return has_e7 and all(p.is_file() for p in needed)


@pytest.fixture(scope="module")
def runs(influxdb: InfluxD, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three cases run side by side until each has recorded, delivered and beaten; then SIGTERM."""
    procs = {}
    for name, (umask, influx) in CASES.items():
        root = tmp_path_factory.mktemp(name)
        with open(root / "stderr", "wb") as err:
            procs[name] = (root, influx, subprocess.Popen(
                [sys.executable, "-m", "logger", "run", "--simulate"], cwd=root,
                env=_env(root, influxdb if influx else None), stdout=subprocess.DEVNULL, stderr=err, umask=umask))
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and not all(
                proc.poll() is not None or _ready(root, influx) for root, influx, proc in procs.values()):
            time.sleep(0.5)
        for name, (root, influx, proc) in procs.items():
            assert proc.poll() is None, f"{name} exited early:\n{(root / 'stderr').read_text()[-3000:]}"
            assert _ready(root, influx), f"{name} not ready in {WAIT_S:.0f} s:\n{(root / 'stderr').read_text()[-3000:]}"
    finally:
        for _, _, proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {name: proc.wait(60) for name, (_, _, proc) in procs.items()}
    assert codes == dict.fromkeys(CASES, 0)
    return {name: root for name, (root, _, _) in procs.items()}


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("case", list(CASES))
def test_every_file_and_directory_the_logger_created_has_its_documented_mode(runs, case):
    root = runs[case]
    influx = CASES[case][1]
    data, state = root / "out" / "data", root / "var" / "state"
    expected = {data.parent: DIR_MODE, data: DIR_MODE, state.parent: DIR_MODE, state: DIR_MODE,
                state / "scan.json": FILE_MODE, state / "heartbeat": FILE_MODE}
    expected.update({p: FILE_MODE for p in data.glob("*.csv")})
    if influx:
        spool = state / "spool"
        segments = list(spool.glob("*.lp"))
        assert segments
        expected.update({spool: DIR_MODE, spool / "committed": FILE_MODE})
        expected.update({p: FILE_MODE for p in segments})
    found = {p: _mode(p) for top in (root / "out", root / "var") for p in [top, *top.rglob("*")]}
    assert set(found) == set(expected), "created but not documented (or documented but missing): " \
        f"{sorted(str(p.relative_to(root)) for p in set(found) ^ set(expected))}"
    wrong = {str(p.relative_to(root)): oct(m) for p, m in found.items() if m != expected[p]}
    assert not wrong, f"modes differ from docs/reliability.md (0640 files, 0750 directories): {wrong}"
