"""An apartment block: three neighbours' meters, louder and on earlier channels than the own
meter. ``run`` must record the own meter's E7 after its first scan in every dialect and never
send SKJOIN to a neighbour; ``doctor`` must choose the same PAN."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from logger.clock import VirtualClock
from logger.dongle_checks import DongleChecks, drive
from logger.link.settings import LinkSettings
from logger.secrets import Secret
from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID, DongleConfig, DongleSim
from logger.simulate.embedded import virtual_app
from logger.simulate.meter import MeterConfig, MeterSim
from logger.simulate.neighbours import neighbourhood
from logger.skstack.commands import ll64
from logger.transport import SimTransport

START = 1_780_000_000.0
DIALECTS = ["bp35a1", "rl7023-ips", "rl7023-dss", "bp35c0"]


def own_and_neighbours(dialect: str) -> tuple[DongleConfig, list[str]]:
    config = DongleConfig()
    config.neighbours = neighbourhood(config, 3, seed=7)
    assert all(n.channel < config.channel and n.lqi > config.lqi for n in config.neighbours)
    return config, [ll64(n.mac) for n in config.neighbours]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_run_records_the_own_meter_after_one_scan_and_never_joins_a_neighbour(tmp_path: Path, dialect: str) -> None:
    app = virtual_app(tmp_path, START, dialect=dialect, neighbours=3)
    config = app.simulation.dongle.config
    assert len(config.neighbours) == 3
    app.run(until=START + 600)
    neighbour_ips = {ll64(n.mac).encode() for n in config.neighbours}
    joins = [data for _t, data in app.simulation.sent if data.startswith(b"SKJOIN")]
    assert joins and not any(ip in line for line in joins for ip in neighbour_ips)
    assert all(ll64(config.meter_mac).encode() in line for line in joins)
    assert app.session.stats["scans"] == 1 and app.session.stats["joins"] == 1
    rows = [line for p in (tmp_path / "data").glob("*.csv") for line in p.read_text().splitlines()]
    assert any(",E7,," in line for line in rows)
    assert app.session.state.scan.addr == config.meter_mac


@pytest.mark.parametrize("dialect", ["bp35a1", "bp35c0"])
def test_doctor_chooses_the_same_pan_as_run(tmp_path: Path, dialect: str) -> None:
    config, _ = own_and_neighbours(dialect)
    clock = VirtualClock(START)
    dongle = DongleSim(dialect, MeterSim(MeterConfig(notify="none"), START), config, random.Random(1))
    link = LinkSettings(rbid=Secret(DEMO_RBID), password=Secret(DEMO_PASSWORD))
    checks = {c.name: c for c in drive(DongleChecks(link, join=True, credentials_ok=True),
                                         SimTransport(dongle, clock), clock)}
    assert checks["meter"].status == "OK", checks["meter"].line()
    assert f"PAN {config.pan_id:04X}" in checks["meter"].found and config.meter_mac in checks["meter"].found
    assert "3 other PAN(s) heard" in checks["meter"].found
    assert checks["join"].status == "OK"

    app = virtual_app(tmp_path, START, dialect=dialect, dongle=config)
    app.run(until=START + 300)
    assert (app.session.state.scan.channel, app.session.state.scan.pan_id) == (config.channel, config.pan_id)


# ------------------------------------------------------------------ the real processes a user starts


def _env(tmp_path: Path, port: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_", "STATE_")) and k != "DEBUG"}
    env.update({"BROUTE_ID": DEMO_RBID, "BROUTE_PASSWORD": DEMO_PASSWORD, "SERIAL_PORT": port,
                "CSV_DIR": str(tmp_path / "data"), "STATE_DIR": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"})
    return env


@pytest.mark.slow
def test_simulate_neighbours_then_doctor_and_run_choose_the_own_meter(tmp_path: Path) -> None:
    import json
    import signal
    import subprocess
    import sys
    import time

    sim = subprocess.Popen([sys.executable, "-m", "logger", "simulate", "--neighbours", "3", "--listen",
                            "127.0.0.1:0", "--min-scan-duration", "3"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = sim.stdout.readline().strip()
        assert port.startswith("socket://"), sim.stderr.read()
        cfg = tmp_path / "settings.yml"
        cfg.write_text("session:\n  scan_duration_min: 3\n  scan_duration_max: 4\n")
        doctor = subprocess.run([sys.executable, "-m", "logger", "doctor", "--config", str(cfg)], cwd=tmp_path,
                                env=_env(tmp_path, port), capture_output=True, text=True, timeout=120, check=False)
        meter = next(line for line in doctor.stdout.splitlines() if line[5:].startswith("meter:"))
        assert meter.startswith("OK") and "3 other PAN(s) heard" in meter, doctor.stdout
        run = subprocess.Popen([sys.executable, "-m", "logger", "run", "--config", str(cfg), "--debug"],
                               cwd=tmp_path, env=_env(tmp_path, port), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 90
            rows: list[str] = []
            while time.monotonic() < deadline and not any(",E7," in r for r in rows):
                time.sleep(1)
                rows = [r for p in (tmp_path / "data").glob("*.csv") for r in p.read_text().splitlines()]
        finally:
            run.send_signal(signal.SIGTERM)
            _, err = run.communicate(timeout=30)
        assert any(",E7," in r for r in rows), err[-3000:]
        assert run.returncode == 0, err[-3000:]
        joins = [line for line in err.splitlines() if "> SKJOIN" in line]
        assert len(joins) == 1, joins
        scan = json.loads((tmp_path / "state" / "scan.json").read_text())["scan"]
        # doctor and run chose the same PAN, and the one SKJOIN went to it
        assert f"PAN {scan['pan_id']:04X}" in meter and scan["addr"] in meter
        assert ll64(scan["addr"]) in joins[0]
    finally:
        sim.terminate()
        sim.wait(timeout=10)
