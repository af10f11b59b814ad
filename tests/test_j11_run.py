"""``run`` on a J11 adapter end to end: exactly what ``run`` builds (virtual clock, the J11
simulator ``logger/simulate/j11``, the real CSV sink), the family detected by ``dongle: auto``.

E7, E8, E0 and EA must equal what the MeterSim had, through a virtual day with every fault the
J11 simulator models (PANA disconnected, meter silence, adapter reset, garbage on the line, the
adapter unplugged, 1 % frame loss), and a neighbourhood must never get a B-route start.
"""

from __future__ import annotations

import csv
import itertools
import logging
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from logger.echonet.frame import ESV, decode_frame
from logger.session import Phase
from logger.simulate.dongle import DongleConfig
from logger.simulate.embedded import virtual_app
from logger.simulate.faults import Fault, FaultPlan
from logger.simulate.meter import MeterConfig

TZ = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 11, 22, 23, 0, 5, tzinfo=TZ).timestamp()
END = datetime(2026, 11, 24, 0, 5, tzinfo=TZ).timestamp()
DAY = datetime(2026, 11, 23, tzinfo=TZ)
J11_REQUEST = bytes.fromhex("D0EA83FC")


def at(hour: int, minute: int = 0) -> float:
    return (DAY + timedelta(hours=hour, minutes=minute)).timestamp()


def rows_of(data_dir: Path) -> list[tuple[datetime, str, str, Decimal]]:
    out = []
    for f in sorted(data_dir.iterdir()):
        with f.open(newline="") as fh:
            lines = list(csv.reader(fh))
        assert lines[0] == ["timestamp", "unitid", "epc", "dataid", "value"]
        out += [(datetime.fromisoformat(r[0]), r[2], r[3], Decimal(r[4])) for r in lines[1:]]
    return out


def requests(sim, code: int) -> list[tuple[float, bytes]]:
    """(time, data) of every J11 request with ``code`` the logger sent."""
    return [(t, d[12:]) for t, d in sim.sent if d.startswith(J11_REQUEST) and int.from_bytes(d[4:6], "big") == code]


def check_values(rows, meter) -> None:
    keys = Counter((ts, epc, dataid) for ts, epc, dataid, _ in rows)
    assert [k for k, c in keys.items() if c > 1] == []
    e7 = [(ts, v) for ts, epc, _, v in rows if epc == "E7"]
    assert e7 and all(v == meter.power_w(ts.timestamp()) for ts, v in e7)
    e8: dict[datetime, Decimal] = defaultdict(Decimal)
    for ts, epc, _, v in rows:
        if epc == "E8":
            e8[ts] += v
    assert e8 and all(v == Decimal(round(meter.power_w(ts.timestamp()) / 10)) / 10 for ts, v in e8.items())
    e0 = [(ts, v) for ts, epc, _, v in rows if epc == "E0"]
    assert e0 and all(abs(v - meter.true_energy_kwh(ts.timestamp())) <= Decimal("0.1") for ts, v in e0)
    ea = {ts: v for ts, epc, _, v in rows if epc == "EA"}
    for slot in (DAY + timedelta(minutes=30 * i) for i in range(48)):
        assert slot in ea, f"missing EA {slot}"
        assert ea[slot] == meter.true_counter(slot.timestamp()) * Decimal("0.1"), slot


@pytest.mark.slow
def test_a_virtual_day_on_j11_with_every_fault_records_exactly_what_the_meter_had(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    faults = [Fault(at(3), "drop"), Fault(at(6), "silence", 600), Fault(at(9), "reset"), Fault(at(12), "garbage", 40),
              Fault(at(15), "unplug"), Fault(at(18), "drop-28")]
    app = virtual_app(tmp_path, START, "j11", meter=MeterConfig(notify="infc"), seed=3,
                      dongle=DongleConfig(faults=FaultPlan(loss_pct=1.0, scripted=faults)))
    app.run(until=END)
    sim, session = app.simulation, app.session
    c = sim.dongle.counters
    assert (c.session_drops, c.silences, c.resets, c.unplugs) == (2, 1, 1, 1)
    assert session.phase is Phase.STOPPED and session.dialect.name == "j11"
    # detected, not configured: the SKSTACK probe went first, then the one J11 get-version frame
    assert sim.sent[0][1] == b"SKSREG SFE 0\r\n" and any(d.startswith(J11_REQUEST) for _t, d in sim.sent[1:4])
    assert session.stats["scans"] == 1  # every rejoin used the cached J11 channel
    assert session.stats["joins"] >= 5 and session.state.scan.channel == 17 and session.state.scan.dialect == "j11"
    rows = rows_of(tmp_path / "data")
    check_values(rows, sim.meter)
    e7 = sorted(ts.timestamp() for ts, epc, _, _v in rows if epc == "E7")
    assert len(e7) >= 0.95 * 24 * 360
    assert max(b - a for a, b in itertools.pairwise(e7)) < 700  # the 10-min silence is the longest gap
    # every Get went out as a J11 send-data frame to the meter's port 0E1A
    sends = requests(sim, 0x0008)
    assert sends and all(d[16:20] == bytes.fromhex("0E1A0E1A") for _t, d in sends)
    esvs = Counter(decode_frame(d[22:]).esv for _t, d in sends)
    assert esvs[ESV.GET] >= 24 * 360
    # INFC pushes answered with INFC_Res (a push lost to a fault is backfilled, never recorded twice)
    assert esvs[ESV.INFC_RES] >= 40 and sim.meter.acked_infc >= 40


def test_a_neighbourhood_on_j11_never_starts_b_route_on_a_neighbours_meter(tmp_path):
    app = virtual_app(tmp_path, START, "j11", neighbours=3, seed=1)
    app.run(until=START + 900)
    sim = app.simulation
    assert sim.dongle.config.neighbours  # neighbours are in range
    scans = requests(sim, 0x0051)
    assert scans and all(d[5] == 0x01 and d[6:14].decode() == sim.dongle.config.rbid[-8:] for _t, d in scans)
    inits = requests(sim, 0x005F)
    assert {d[2] for _t, d in inits[1:]} == {17}  # B-route only ever on the own meter's channel
    assert sim.dongle.peer is not None and sim.dongle.peer.own
    assert len(requests(sim, 0x0053)) == 1 and app.session.stats["joins"] == 1
    check_rows = rows_of(tmp_path / "data")
    assert any(epc == "E7" for _ts, epc, _, _v in check_rows)


def test_dongle_auto_detects_j11_and_the_configured_name_skips_detection(tmp_path):
    auto = virtual_app(tmp_path / "auto", START, "j11")
    auto.run(until=START + 120)
    assert auto.session.dialect.name == "j11" and auto.session.phase is Phase.STOPPED
    first = [d for _t, d in auto.simulation.sent[:3]]
    assert first[0] == b"SKSREG SFE 0\r\n" and first[1].startswith(J11_REQUEST)  # SKSTACK first, then J11
    named = virtual_app(tmp_path / "named", START, "j11", settings_yaml="serial: {dongle: rs-wsuha-j11}")
    named.run(until=START + 120)
    assert named.simulation.sent[0][1].startswith(J11_REQUEST)
    assert any(epc == "E7" for _ts, epc, _, _v in rows_of(tmp_path / "named" / "data"))


def test_an_skstack_dongle_on_auto_never_imports_the_j11_modules(tmp_path):
    """``dongle: auto`` with an SKSTACK dongle that answers the probe: the J11 modules (~0.65 MB) are
    never imported, in a fresh interpreter (logger/link/detect.py); a J11 adapter gets them when asked
    (the test above)."""
    import json
    import subprocess
    import sys

    code = ("import json, sys\nfrom logger.simulate.embedded import virtual_app\n"
            f"app = virtual_app(sys.argv[1], {START})\napp.run(until={START} + 300)\n"
            "print(json.dumps({'dialect': app.session.dialect.name, 'e7': app.session.stats['readings'],\n"
            "                  'j11': sorted(m for m in sys.modules if m.startswith(('logger.j11', 'logger.link.j11')))}))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["dialect"] == "bp35a1" and result["e7"] > 10
    assert result["j11"] == []


def test_wrong_password_on_j11_is_a_credentials_problem_and_backs_off(tmp_path, caplog):
    from logger.clock import VirtualClock
    from logger.simulate.embedded import build_simulation

    sim = build_simulation(VirtualClock(START), "j11", password="WRONGPASSWD1", record_sent=True)
    app = virtual_app(tmp_path, START, "j11", simulation=sim)
    app.run(until=START + 600)
    # blamed on the credentials (the slow back-off), said at ERROR
    assert app.session._auth_failures == 1 and app.session._join_failures == 0
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    assert app.session.phase is not Phase.RUN
    assert len(requests(sim, 0x0056)) == 1  # one PANA start in ten minutes: the back-off holds


def doctor(dongle: str = "auto", join: bool = True, password: str | None = None):
    import random

    from logger.clock import VirtualClock
    from logger.dongle_checks import DongleChecks, drive
    from logger.link.settings import LinkSettings
    from logger.secrets import Secret
    from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID
    from logger.simulate.j11 import J11Sim
    from logger.simulate.meter import MeterSim
    from logger.transport import SimTransport

    clock = VirtualClock(START)
    config = DongleConfig()
    config.rbid, config.password = DEMO_RBID, password or DEMO_PASSWORD
    sim = J11Sim(MeterSim(MeterConfig(notify="none"), START), config, random.Random(1))
    link = LinkSettings(dongle=dongle, rbid=Secret(DEMO_RBID), password=Secret(DEMO_PASSWORD))
    checks = DongleChecks(link, port="sim", join=join, credentials_ok=True)
    return {c.name: c for c in drive(checks, SimTransport(sim, clock), clock)}


@pytest.mark.parametrize("dongle", ["auto", "j11", "bp35c1-j11"])
def test_doctor_names_the_j11_family_and_firmware_and_runs_its_checks(dongle):
    from logger.diagnose import OK

    checks = doctor(dongle)
    assert [checks[n].status for n in ("dongle", "dialect", "erxudp mode", "session", "meter", "join")] == [OK] * 6
    assert "J11 adapter answers: firmware 1.2.7" in checks["dongle"].found
    assert checks["dialect"].found.startswith("j11: ROHM J11 binary command set")
    assert "channel 17" in checks["meter"].found and "PairID matches" in checks["meter"].found


def test_doctor_on_j11_blames_a_wrong_password():
    from logger.diagnose import FAIL

    checks = doctor("auto", password="WRONGPASSWD1")
    assert checks["join"].status == FAIL and "rejected the B-route ID or password" in checks["join"].found


def test_a_j11_transcript_is_hex_dumped_frames_masked_and_replays_to_the_recorded_rows(tmp_path, capsys):
    import argparse

    from logger.app import build_app
    from logger.clock import VirtualClock
    from logger.commands import replay
    from logger.config import load_settings
    from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID
    from logger.simulate.embedded import build_simulation

    clock = VirtualClock(START)
    sim = build_simulation(clock, "j11", neighbours=2)
    (tmp_path / "settings.yml").write_text("{}", encoding="utf-8")
    settings = load_settings(tmp_path / "settings.yml", dotenv=None,
                             env={"CSV_DIR": str(tmp_path / "data"), "STATE_DIR": str(tmp_path / "state")})
    app = build_app(settings, clock=clock, simulation=sim, max_wait_s=60.0, transcript=tmp_path / "t.log")
    app.run(until=START + 1800)
    text = (tmp_path / "t.log").read_text()
    for secret in (DEMO_RBID, DEMO_PASSWORD, DEMO_RBID[-8:]):
        assert secret not in text and secret.encode().hex().upper() not in text
    assert "> J11 D0EA83FC0054" in text and "< J11 D0F9EE5D6018" in text
    capsys.readouterr()
    parser = argparse.ArgumentParser()
    replay.configure(parser)
    assert replay.main(parser.parse_args([str(tmp_path / "t.log")])) == 0
    replayed = {tuple(r.split(",")) for r in capsys.readouterr().out.splitlines()[1:]}
    logged = {tuple(r) for _ts, r in _raw_rows(tmp_path / "data")}
    key = lambda rows, epc: sorted(r for r in rows if r[2] == epc)
    assert key(replayed, "EA") == key(logged, "EA") and key(logged, "EA")
    for epc in ("E7", "E8", "E0"):
        assert [r[2:] for r in key(replayed, epc)] == [r[2:] for r in key(logged, epc)], epc


def _raw_rows(data_dir: Path):
    for f in sorted(data_dir.iterdir()):
        with f.open(newline="") as fh:
            for r in list(csv.reader(fh))[1:]:
                yield r[0], r


def test_a_scan_cached_by_another_command_set_is_not_used(tmp_path):
    """scan.json written with an SKSTACK dongle, then a J11 adapter plugged in: its channel numbers
    mean nothing to the adapter, so the logger scans instead of joining the cached PAN."""
    from logger.simulate.embedded import virtual_app
    from logger.state import ScanResult, SessionState, save_state

    start = 1_780_000_000.0
    save_state(tmp_path / "state", SessionState(ScanResult(0x3B, 0x8257, "001C640003DD8257",
                                                           "FE80:0000:0000:0000:021C:6400:03DD:8257", 6, "bp35a1")))
    app = virtual_app(tmp_path, start, dialect="j11")
    app.run(until=start + 300)
    assert app.session.stats["scans"] == 1 and app.runner.recorded > 0
    assert app.session.state.scan.dialect == "j11"
