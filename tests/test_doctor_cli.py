"""``smartmeter-logger doctor`` end to end: the real CLI in a subprocess against the real
``smartmeter-logger simulate`` (pty and TCP), a pty that answers garbage, a silent pty, a
missing port, a closed InfluxDB port; and the secrets grep over everything printed."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_credentials import fake_credentials, windows
from privileges import unprivileged as drop_root_bypass

from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID

#: Upper bound for any one subprocess (bounded, never asserted on).
LIMIT = 150
#: Distinctive credentials for the secrets grep (random: a 6-character window cannot occur by chance).
SECRET_RBID, SECRET_PASSWORD, SECRET_TOKEN = fake_credentials(20240611)


class Simulator:
    def __init__(self, dongle: str, tcp: bool, *extra: str) -> None:
        cmd = [sys.executable, "-m", "logger", "simulate", "--dongle", dongle, "--min-scan-duration", "3", *extra]
        if tcp:
            cmd += ["--listen", "127.0.0.1:0"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = self.proc.stdout.readline().strip()
        assert self.port, self.proc.stderr.read() if self.proc.stderr else "simulator printed nothing"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def simulator() -> Iterator:
    started: list[Simulator] = []

    def start(dongle: str = "bp35a1", tcp: bool = False, *extra: str) -> Simulator:
        sim = Simulator(dongle, tcp, *extra)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def write_settings(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "settings.yml"
    path.write_text("session:\n  scan_duration_min: 3\n  scan_duration_max: 4\n" + extra)
    return path


def doctor(tmp_path: Path, port: str | None, *args: str, rbid: str = DEMO_RBID, password: str = DEMO_PASSWORD,
           env: dict[str, str] | None = None, config: Path | None = None,
           unprivileged: bool = False) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_", "STATE_")) and k != "DEBUG"}
    full_env.update({"BROUTE_ID": rbid, "BROUTE_PASSWORD": password, "CSV_DIR": str(tmp_path / "data"),
                     "STATE_DIR": str(tmp_path / "state")})
    if port is not None:
        full_env["SERIAL_PORT"] = port
    full_env.update(env or {})
    cfg = config or write_settings(tmp_path)
    argv = [sys.executable, "-m", "logger", "doctor", "--config", str(cfg), *args]
    return subprocess.run(drop_root_bypass(argv) if unprivileged else argv, cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=LIMIT, check=False)


def lines(result: subprocess.CompletedProcess) -> dict[str, str]:
    """check name -> its whole line (the last line of that name)."""
    out = {}
    for line in result.stdout.splitlines():
        if line[:4].strip() in ("OK", "WARN", "FAIL", "SKIP") and ":" in line:
            out[line[5:].split(":", 1)[0]] = line
    return out


ORDER = ["settings", "credentials", "serial port", "dongle", "dialect", "erxudp mode", "session", "meter",
         "influxdb", "csv directory", "state directory"]


@pytest.mark.parametrize("dongle, tcp", [("bp35a1", False), ("rl7023-dss", True), ("rl7023-ips", False),
                                         ("bp35c0", True)])
def test_all_ok_against_the_simulator(tmp_path: Path, simulator, dongle: str, tcp: bool) -> None:
    sim = simulator(dongle, tcp)
    result = doctor(tmp_path, sim.port)
    assert result.returncode == 0, result.stdout + result.stderr
    got = lines(result)
    assert list(got) == ORDER
    for name in ORDER:
        expected = "SKIP" if name == "influxdb" else "OK"
        assert got[name].startswith(expected), got[name]
    assert f"{dongle}:" in got["dialect"]
    assert "found at scan duration 3: channel 59" in got["meter"]
    if tcp:
        assert "reachable" in got["serial port"]
    else:
        assert "opened exclusively" in got["serial port"]


def test_join_ok_then_wrong_credentials_fail(tmp_path: Path, simulator) -> None:
    sim = simulator("bp35c0", True, "--pana-fail-time", "4")  # EVENT 24 after 4 s instead of ~38 s
    good = doctor(tmp_path, sim.port, "--join")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "EVENT 25" in lines(good)["join"] and "SKTERM" in lines(good)["join"]
    # the simulator answers a wrong password with EVENT 24 after its (shortened) PANA timeout
    bad = doctor(tmp_path, sim.port, "--join", password="WRONGpasswd1")
    assert bad.returncode == 1
    join = lines(bad)["join"]
    assert join.startswith("FAIL") and "authentication failed" in join
    assert "check BROUTE_ID and BROUTE_PASSWORD" in join


def test_secrets_never_printed(tmp_path: Path, simulator) -> None:
    sim = simulator("bp35a1", False, "--rbid", SECRET_RBID, "--password", SECRET_PASSWORD)
    result = doctor(tmp_path, sim.port, "--join", "--show-config", "--debug", "--influxdb",
                    rbid=SECRET_RBID, password=SECRET_PASSWORD,
                    env={"INFLUXDB_URL": "http://127.0.0.1:9", "INFLUXDB_TOKEN": SECRET_TOKEN,
                         "INFLUXDB_ORG": "home", "INFLUXDB_BUCKET": "smartmeter", "DEBUG": "1"})
    text = result.stdout + result.stderr
    assert lines(result)["join"].startswith("OK")  # the secrets really went to the dongle
    assert "-> SKSETPWD C ********" in result.stderr  # and debug logging was on
    assert "effective settings" in result.stdout
    # not even partly: every 8-character window of the (hex) ID, every 6-character one of the others
    for secret, size in ((SECRET_RBID, 8), (SECRET_PASSWORD, 6), (SECRET_TOKEN, 6)):
        for i, part in enumerate(windows(secret, size)):
            assert part not in text, f"part of a secret printed (offset {i})"


def test_nonexistent_port(tmp_path: Path) -> None:
    result = doctor(tmp_path, "/dev/ttyUSB-doctor-missing", "--no-scan")
    assert result.returncode == 1
    got = lines(result)
    assert got["serial port"].startswith("FAIL") and "does not exist" in got["serial port"]
    assert "is the dongle plugged in?" in got["serial port"]
    assert got["dongle"].startswith("SKIP") and got["meter"].startswith("SKIP")
    assert got["state directory"].startswith("OK")  # independent checks still run


def test_connection_refused_url(tmp_path: Path) -> None:
    result = doctor(tmp_path, "socket://127.0.0.1:9")
    assert result.returncode == 1
    assert "connection refused" in lines(result)["serial port"]


class FakeDevice:
    """A real pty whose other end is a 'device' that answers garbage or nothing."""

    def __init__(self, garbage: bool) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo: otherwise our own garbage would come back to us
        self.path = os.ttyname(self.slave)
        self.garbage = garbage
        self.rng = random.Random(7)
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                data = os.read(self.master, 1024)
            except OSError:
                return
            if data and self.garbage:
                noise = bytes(self.rng.randrange(0x80, 0x100) for _ in range(40)) + b"\r\n"
                os.write(self.master, noise)

    def close(self) -> None:
        self.stopped = True
        os.close(self.slave)
        os.close(self.master)


@pytest.mark.parametrize("garbage", [True, False])
def test_garbage_and_silence(tmp_path: Path, garbage: bool) -> None:
    device = FakeDevice(garbage)
    try:
        result = doctor(tmp_path, device.path, "--timeout", "1")
    finally:
        device.close()
    assert result.returncode == 1
    got = lines(result)
    assert got["serial port"].startswith("OK")
    assert got["dongle"].startswith("FAIL")
    # what came back is told apart (bytes vs nothing), and the fix names the port and the baud rate
    assert ("bytes came back" in got["dongle"]) is garbage
    assert ("no answer at all" in got["dongle"]) is not garbage
    assert "SERIAL_PORT" in got["dongle"] and "115200" in got["dongle"]
    assert got["meter"].startswith("SKIP")


def test_permission_denied(tmp_path: Path) -> None:
    fake = tmp_path / "ttyFAKE"
    fake.write_text("")
    fake.chmod(0)
    result = doctor(tmp_path, str(fake), unprivileged=True)  # as root too: see tests/privileges.py
    assert result.returncode == 1
    assert "sudo usermod -aG dialout $USER" in lines(result)["serial port"]


def test_port_held_by_another_program(tmp_path: Path, simulator) -> None:
    import serial

    sim = simulator("bp35a1", False)
    holder = serial.Serial(sim.port, exclusive=True)
    try:
        result = doctor(tmp_path, sim.port, "--no-scan")
    finally:
        holder.close()
    assert result.returncode == 1
    assert "held by another program" in lines(result)["serial port"]


def test_config_error_exits_2(tmp_path: Path) -> None:
    result = doctor(tmp_path, "/dev/null", config=write_settings(tmp_path, "sesion:\n  x: 1\n"))
    assert result.returncode == 2
    got = lines(result)
    assert got["settings"].startswith("FAIL") and "unknown key" in got["settings"]
    assert all(got[name].startswith("SKIP") for name in ("credentials", "serial port", "dongle", "meter"))
    found, _, fix = got["settings"].partition(" -- fix: ")
    assert fix and fix not in found  # the fix is said once, after the finding


def test_missing_credentials_exit_2_but_dongle_still_checked(tmp_path: Path, simulator) -> None:
    sim = simulator("rl7023-ips", True)
    result = doctor(tmp_path, sim.port, "--join", "--no-scan", rbid="", password="")
    assert result.returncode == 2
    got = lines(result)
    assert got["credentials"].startswith("FAIL") and "BROUTE_ID is not set" in got["credentials"]
    assert got["dongle"].startswith("OK")


def test_influxdb_unreachable(tmp_path: Path) -> None:
    result = doctor(tmp_path, "/dev/ttyUSB-doctor-missing", "--influxdb",
                    env={"INFLUXDB_URL": "http://127.0.0.1:9", "INFLUXDB_TOKEN": SECRET_TOKEN,
                         "INFLUXDB_ORG": "home", "INFLUXDB_BUCKET": "smartmeter"})
    got = lines(result)
    assert got["influxdb"].startswith("FAIL") and "unreachable" in got["influxdb"]
    assert got["influxdb write"].startswith("SKIP")
    assert SECRET_TOKEN not in result.stdout + result.stderr
