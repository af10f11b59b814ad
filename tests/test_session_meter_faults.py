"""Meter and radio faults beyond the soak: frames that must not be recorded (another meter's TID,
duplicates, an unexpected object or sender) and a meter that changes its scale mid-run.

Virtual clock, the real simulator (an RL7023/IPS: hex ERXUDP, so extra lines are easy to write),
the real CSV sink. Extra frames are put on the line next to what the dongle prints, as a
second meter or a flaky radio would.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from logger.echonet.frame import CONTROLLER, ESV, METER, Frame, Property
from logger.simulate import dongle as dongle_mod
from logger.simulate.embedded import virtual_app
from logger.simulate.meter import MeterConfig

TZ = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 11, 22, 9, 0, 5, tzinfo=TZ).timestamp()
END = START + 2 * 3600


def rows(root: Path) -> list[list[str]]:
    out = []
    for f in sorted((root / "data").iterdir()):
        with f.open(newline="") as fh:
            out += list(csv.reader(fh))[1:]
    return out


def erxudp(sim, frame: Frame, sender_mac: str | None = None) -> bytes:
    """An SS ERXUDP line carrying ``frame`` from the meter (or another device) to our dongle."""
    from logger.skstack.commands import ll64

    mac = sender_mac or sim.dongle.config.meter_mac
    data = frame.encode()
    return (f"ERXUDP {ll64(mac)} {sim.dongle.address} 0E1A 0E1A {mac} 1 {len(data):04X} ".encode()
            + data.hex().upper().encode() + b"\r\n")


def inject(monkeypatch, make_extra):
    """Append lines from ``make_extra(dongle, now, output)`` to everything the dongle prints."""
    original = dongle_mod.DongleSim.output

    def output(self, now):
        out = original(self, now)
        return out + make_extra(self, now, out)

    monkeypatch.setattr(dongle_mod.DongleSim, "output", output)


def test_duplicated_frames_are_recorded_once(tmp_path, monkeypatch):
    def twice(_dongle, _now, out):  # every ERXUDP line arrives twice (a retransmitting radio)
        return b"".join(line + b"\r\n" for line in out.split(b"\r\n") if line.startswith(b"ERXUDP"))

    inject(monkeypatch, twice)
    app = virtual_app(tmp_path, START, "rl7023-ips")
    app.run(until=END)
    got = rows(tmp_path)
    keys = Counter((r[0], r[1], r[2], r[3]) for r in got)
    assert [k for k, c in keys.items() if c > 1] == []
    assert sum(1 for r in got if r[2] == "E7") >= 700  # readings kept flowing
    assert app.session.stats["dropped_frames"] > 500  # each duplicate answer dropped and counted


def test_other_meters_tid_unexpected_object_and_sender_are_dropped(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="logger.session")
    bogus_power = (0x7FFF0000).to_bytes(4, "big")  # 2147418112 W: would stand out in the CSV
    sent = {"n": 0}

    def strangers(dongle, now, out):
        if b"ERXUDP" not in out or sent["n"] >= 30:
            return b""
        sent["n"] += 1
        wrong_tid = Frame(0xBEEF, METER, CONTROLLER, ESV.GET_RES, (Property(0xE7, bogus_power),))
        solar = Frame(0x0001, 0x027901, CONTROLLER, ESV.GET_RES, (Property(0xE7, bogus_power),))
        neighbour = Frame(0x0001, METER, CONTROLLER, ESV.INF, (Property(0xE7, bogus_power),))
        return (erxudp(dongle_holder["sim"], wrong_tid) + erxudp(dongle_holder["sim"], solar)
                + erxudp(dongle_holder["sim"], neighbour, sender_mac="001C6400DEADBEEF"))

    dongle_holder: dict = {}
    inject(monkeypatch, strangers)
    app = virtual_app(tmp_path, START, "rl7023-ips")
    dongle_holder["sim"] = app.simulation
    app.run(until=END)
    got = rows(tmp_path)
    assert sent["n"] == 30
    assert not [r for r in got if r[4] == "2147418112"]
    assert app.session.stats["dropped_frames"] >= 90
    assert "unexpected TID" in caplog.text and "unexpected object 027901" in caplog.text
    assert "another device 001C6400DEADBEEF" in caplog.text
    assert sum(1 for r in got if r[2] == "E7") >= 700


def test_coefficient_and_unit_change_mid_run_never_mix_scales(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    app = virtual_app(tmp_path, START, "bp35a1", meter=MeterConfig(coefficient=1, unit=0x01))
    meter = app.simulation.meter
    change = START + 3600 + 17  # between two energy reads
    meter.set_coefficient(10, change)
    meter.set_unit(0x02, change + 1800)  # 0.01 kWh per count
    app.run(until=START + 3 * 3600)
    got = rows(tmp_path)
    e0 = [(datetime.fromisoformat(r[0]).timestamp(), Decimal(r[4])) for r in got if r[2] == "E0"]
    assert len(e0) >= 30
    for t, kwh in e0:  # every E0 row, before and after both changes, is the meter's true energy
        truth = meter.true_energy_kwh(t)
        assert abs(kwh - truth) <= Decimal("0.1") * 10, (t, kwh, truth)  # within one count of the scale in force
    d3 = [Decimal(r[4]) for r in got if r[2] == "D3"]
    e1 = [Decimal(r[4]) for r in got if r[2] == "E1"]
    assert d3[0] == 1 and d3[-1] == 10 and e1[0] == Decimal("0.1") and e1[-1] == Decimal("0.01")
    assert "meter changed" in caplog.text
