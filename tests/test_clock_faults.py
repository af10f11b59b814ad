"""A host clock that is wrong or jumps, end to end (virtual clock, real simulator, real CSV sink).

The host's wall clock is the virtual clock's true time plus an offset (a Pi that booted with a
saved time) and scripted jumps (NTP answering); the simulated meter keeps its own clock (true
time, or set off by minutes). Every reading must carry the meter's time within a few seconds,
land in the file of its own date, in order, once; every half hour must be there once.
"""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from logger.echonet.frame import ESV, decode_frame
from logger.simulate.embedded import virtual_app
from logger.simulate.meter import DEFAULT_EPCS, MeterConfig
from logger.sinks.csv_sink import METER_TIMESTAMPED

TZ = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 11, 22, 9, 0, 5, tzinfo=TZ).timestamp()
END = START + 4 * 3600 + 300  # 13:05:05
DAYS = 86400.0
#: how far a stamp may be from the meter's clock: the rollover search pins it to (3 s + latency) / 2
WITHIN_S = 4.0
NO_CLOCK = DEFAULT_EPCS - {0x97, 0x98}
KEEP_SESSION = "session: {terminate_on_stop: false}"


@dataclass(frozen=True)
class Row:
    file: str
    ts: datetime
    epc: str
    dataid: str
    value: Decimal


def rows_of(root: Path) -> list[Row]:
    out = []
    for f in sorted((root / "data").iterdir()):
        with f.open(newline="") as fh:
            lines = list(csv.reader(fh))
        assert lines[0] == ["timestamp", "unitid", "epc", "dataid", "value"]
        out += [Row(f.name, datetime.fromisoformat(r[0]), r[2], r[3], Decimal(r[4])) for r in lines[1:]]
    return out


def check_files(rows: list[Row]) -> None:
    """No row twice; every row in the file of its own date; the live rows of a file in order."""
    keys = Counter((r.ts, r.epc, r.dataid) for r in rows)
    assert [k for k, c in keys.items() if c > 1] == []
    assert all(r.ts.astimezone(TZ).strftime("%Y%m%d-smartmeter.csv") == r.file for r in rows)
    for _name, group in itertools.groupby(rows, key=lambda r: r.file):
        live = [r.ts for r in group if r.epc not in METER_TIMESTAMPED]
        assert live == sorted(live), "rows out of order in a daily file"


def e7_requests(sim) -> list[float]:
    """True times at which the logger asked for E7."""
    out = []
    for t, data in sim.sent:
        if data.startswith(b"SKSENDTO"):
            frame = decode_frame(data.split(b" ", 6)[6])
            if frame.esv == ESV.GET and any(p.epc == 0xE7 for p in frame.props):
                out.append(t)
    return out


def stamp_errors(rows: list[Row], sim, since: float = 0.0, host: bool = False) -> list[float]:
    """For each E7 row asked for at or after true time ``since``: its stamp minus what the meter's
    clock (``host``: the true time) showed when the E7 was asked for."""
    asked = e7_requests(sim)
    clock = (lambda t: t) if host else sim.meter.clock.show
    errors = []
    for r in rows:
        if r.epc != "E7":
            continue
        ts = r.ts.timestamp()
        nearest = min(asked, key=lambda t: abs(clock(t) - ts))
        if nearest >= since:
            errors.append(ts - clock(nearest))
    return errors


def check_half_hours(rows: list[Row], meter, end: float = END) -> None:
    """Every half hour (on the meter's clock) from local midnight to the last settled one, once, right."""
    ea = {r.ts: r.value for r in rows if r.epc == "EA"}
    day = datetime.fromtimestamp(START, TZ).replace(hour=0, minute=0, second=0)
    last = datetime.fromtimestamp(meter.clock.show(end) - 120, TZ)
    slots = []
    while day <= last:
        slots.append(day)
        day += timedelta(minutes=30)
    shown_end = datetime.fromtimestamp(meter.clock.show(end), TZ)
    assert sorted(ea)[: len(slots)] == slots and all(s <= shown_end for s in sorted(ea)[len(slots):])
    for slot in ea:
        assert ea[slot] == Decimal(meter.true_counter(meter.clock.true(slot.timestamp()))) * Decimal("0.1"), slot


def test_the_simulated_meter_keeps_its_own_clock():
    from logger.simulate.meter import MeterSim

    meter = MeterSim(MeterConfig(clock_offset_s=300, clock_drift_ppm=100), START)
    t = START + 3 * 3600
    shown = meter.clock.show(t)
    assert abs(shown - (t + 300 + 3 * 3600 * 100e-6)) < 1e-6 and abs(meter.clock.true(shown) - t) < 1e-6
    local = datetime.fromtimestamp(shown, TZ)
    assert meter.property_edt(0x97, t) == bytes((local.hour, local.minute))
    assert meter.property_edt(0x98, t) == local.year.to_bytes(2, "big") + bytes((local.month, local.day))
    # the half-hour pushes come when the meter's clock passes :00/:30, stamped with its time
    push = meter.next_notification_time(START)
    label = datetime.fromtimestamp(round(meter.clock.show(push)), TZ)
    assert label.minute in (0, 30) and label.second == 0 and abs(push - START) < 1800
    (frame,) = meter.notifications(push)
    edt = frame.props[0].edt  # EA: year (2), month, day, hour, minute, second, counter
    assert (edt[4], edt[5], edt[6]) == (label.hour, label.minute, 0)


def test_host_three_days_behind_then_ntp_jumps_to_the_right_time(tmp_path):
    app = virtual_app(tmp_path, START, host_offset=-3 * DAYS)
    app.runner.clock.jump(3 * DAYS, at=START + 2 * 3600)
    app.run(until=END)
    rows = rows_of(tmp_path)
    assert {r.file for r in rows} == {"20261122-smartmeter.csv"}  # nothing in the file of three days ago
    check_files(rows)
    errors = stamp_errors(rows, app.simulation)
    assert len(errors) >= 4 * 360 - 20  # E7 every 10 s from the first minute on
    assert max(abs(e) for e in errors) <= WITHIN_S
    assert min(r.ts for r in rows if r.epc not in METER_TIMESTAMPED).timestamp() >= START  # none on the old time
    check_half_hours(rows, app.simulation.meter)
    assert app.session.timekeeper.source.value == "host"  # the host clock agrees after the jump
    # schedules stay aligned: E7 asked for at the start of each 10 s slot of the meter's clock
    asked = [app.simulation.meter.clock.show(t) % 10 for t in e7_requests(app.simulation)[1:]]
    assert max(min(x, 10 - x) for x in asked) <= WITHIN_S


@pytest.mark.parametrize("fast_by", [600, 3600])
def test_a_fast_host_clock_set_back_by_ntp_leaves_no_duplicate_slot(tmp_path, fast_by):
    app = virtual_app(tmp_path, START, host_offset=fast_by)
    app.runner.clock.jump(-fast_by, at=START + 3600 + 1000)
    app.run(until=END)
    rows = rows_of(tmp_path)
    check_files(rows)
    errors = stamp_errors(rows, app.simulation)
    assert max(abs(e) for e in errors) <= WITHIN_S
    check_half_hours(rows, app.simulation.meter)


def test_a_right_clock_stepped_away_and_back_is_not_followed(tmp_path):
    app = virtual_app(tmp_path, START)
    app.runner.clock.jump(-900, at=START + 3600)  # a bad time source sets it back, NTP puts it right again
    app.runner.clock.jump(900, at=START + 2 * 3600)
    app.runner.clock.jump(1800, at=START + 2.5 * 3600)  # and forward, and right again
    app.runner.clock.jump(-1800, at=START + 3 * 3600)
    app.run(until=END)
    rows = rows_of(tmp_path)
    check_files(rows)
    errors = stamp_errors(rows, app.simulation)
    assert len(errors) >= 4 * 360 - 60
    assert max(abs(e) for e in errors) <= WITHIN_S
    check_half_hours(rows, app.simulation.meter)


def test_without_the_meters_clock_a_jump_back_is_slewed_never_written_twice(tmp_path):
    app = virtual_app(tmp_path, START, meter=MeterConfig(supported_epcs=NO_CLOCK), host_offset=600)
    app.runner.clock.jump(-600, at=START + 3600)
    app.run(until=END)
    rows = rows_of(tmp_path)
    check_files(rows)
    check_half_hours(rows, app.simulation.meter)
    e7 = [r.ts for r in rows if r.epc == "E7"]
    assert e7 == sorted(e7)
    # the host clock is all there is: ten minutes fast until the jump, caught up within twice that after it
    errors = stamp_errors(rows, app.simulation, since=START + 3600 + 1300, host=True)
    assert errors and max(abs(e) for e in errors) <= 1.0


@pytest.mark.parametrize("meter_clock,behind", [(True, 3 * DAYS), (False, 2 * 3600)])
def test_half_hours_missed_while_down_are_backfilled_after_booting_with_an_old_time(tmp_path, meter_clock, behind):
    """Down for two hours, then up with the time saved before the power cut until NTP answers. With
    the meter's clock every reading is right from the start; without it (a meter that does not tell
    its time) the host clock is all there is: right from the jump on, the gap backfilled after it."""
    meter = MeterConfig() if meter_clock else MeterConfig(supported_epcs=NO_CLOCK)
    first = virtual_app(tmp_path, START, meter=meter, settings_yaml=KEEP_SESSION)
    first.run(until=START + 3600)
    sim = first.simulation
    clock = sim.clock
    clock.advance(2 * 3600)  # a power cut: down for two hours (the dongle keeps its session)
    restart = clock.monotonic()
    clock.host_offset = -behind  # ... and boots with an old time
    clock.jump(behind, at=restart + 1800)  # until NTP answers half an hour later
    second = virtual_app(tmp_path, START, simulation=sim, settings_yaml=KEEP_SESSION)
    second.run(until=END)
    rows = rows_of(tmp_path)
    check_files(rows)
    check_half_hours(rows, sim.meter)
    assert second.session.stats["backfilled"] >= 2 * 4  # EA and EB of the slots missed while down
    # the saved frontier, "days in the future" on the old time, is kept: no rescan, no state set aside
    assert second.session.stats["scans"] == 0 and not list((tmp_path / "state").glob("*.bad-*"))
    if meter_clock:  # every reading carries the meter's time
        errors = stamp_errors(rows, sim)
        assert max(abs(e) for e in errors) <= WITHIN_S
        assert {r.file for r in rows} == {"20261122-smartmeter.csv"}
    else:
        errors = stamp_errors(rows, sim, since=restart + 1800 + 5, host=True)
        assert errors and max(abs(e) for e in errors) <= 1.0


@pytest.mark.parametrize("frontier_at", ["2040-06-01T12:00", "2026-11-22T11:00"])
def test_a_frontier_written_under_a_fast_clock_is_dropped_once_the_meter_tells_the_time(tmp_path, caplog,
                                                                                       frontier_at):
    """scan.json's frontier lies after the real time (written while the host clock was years, or hours,
    fast). Loading keeps it (the host clock is no reference); the meter's clock shows it is in the
    future: one line, then every half hour from local midnight is recorded, once."""
    import json
    import logging

    frontier = datetime.fromisoformat(frontier_at).replace(tzinfo=TZ).timestamp()
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "scan.json").write_text(json.dumps(
        {"version": 1, "scan": None, "last_slot": frontier, "recorded": [frontier + 3600], "session_held": False}))
    caplog.set_level(logging.WARNING)
    app = virtual_app(tmp_path, START)
    app.run(until=END)
    rows = rows_of(tmp_path)
    check_files(rows)
    check_half_hours(rows, app.simulation.meter)
    dropped = [r.getMessage() for r in caplog.records if "written under a wrong clock" in r.getMessage()]
    assert len(dropped) == 1 and datetime.fromtimestamp(frontier + 3600, TZ).isoformat() in dropped[0]
    saved = json.loads((tmp_path / "state" / "scan.json").read_text())
    assert saved["last_slot"] < END and all(t < END for t in saved["recorded"])
    assert not list((tmp_path / "state").glob("*.bad-*"))  # nothing in the file itself made no sense


@pytest.mark.parametrize("offset,drift_ppm,follows", [(60, 0.0, False), (-60, 0.0, False), (300, 0.0, True),
                                                      (-240, 150.0, True)])
def test_a_meter_clock_a_few_minutes_off(tmp_path, offset, drift_ppm, follows):
    """Within ``meter.clock_tolerance_s`` (90 s, plus the minute 0x97 cannot tell) the host's clock
    stamps; beyond, the meter's clock does (its EA/EB stamps and the live rows then agree)."""
    meter = MeterConfig(clock_offset_s=offset, clock_drift_ppm=drift_ppm)
    app = virtual_app(tmp_path, START, meter=meter)
    app.run(until=END)
    rows = rows_of(tmp_path)
    check_files(rows)
    check_half_hours(rows, app.simulation.meter)
    errors = stamp_errors(rows, app.simulation, host=not follows)
    assert len(errors) >= 4 * 360 - 20
    assert max(abs(e) for e in errors) <= (WITHIN_S if follows else 1.0)


@pytest.mark.slow
def test_run_against_a_simulator_whose_meter_is_three_days_ahead(tmp_path):
    """The real processes: ``simulate --meter-clock-offset 259200`` looks to ``run`` exactly like a host
    clock three days behind. One line says so, and the readings carry the meter's time."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID

    offset = 3 * DAYS
    repo = Path(__file__).resolve().parents[1]
    sim = subprocess.Popen([sys.executable, "-m", "logger", "simulate", "--listen", "127.0.0.1:0",
                            "--min-scan-duration", "3", "--meter-clock-offset", str(offset)],
                           cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = sim.stdout.readline().strip()
        assert port.startswith("socket://"), sim.stderr.read()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_"))}
        env.update({"BROUTE_ID": DEMO_RBID, "BROUTE_PASSWORD": DEMO_PASSWORD, "SERIAL_PORT": port,
                    "CSV_DIR": str(tmp_path / "data"), "STATE_DIR": str(tmp_path / "state"),
                    "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(repo)})
        env.pop("DEBUG", None)
        cfg = tmp_path / "settings.yml"
        cfg.write_text("session:\n  scan_duration_min: 3\n  scan_duration_max: 4\n")
        started = time.time()
        run = subprocess.Popen([sys.executable, "-m", "logger", "run", "--config", str(cfg)], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 180  # a bound: ~20 s to join, up to a minute to find the rollover
            e7: list[Row] = []
            while time.monotonic() < deadline and len(e7) < 3 and run.poll() is None:
                time.sleep(1)
                if (tmp_path / "data").is_dir():
                    e7 = [r for r in rows_of(tmp_path) if r.epc == "E7"]
            seen = time.time()
        finally:
            run.send_signal(signal.SIGTERM)
            _, err = run.communicate(timeout=30)
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    assert len(e7) >= 3, err[-3000:]
    assert run.returncode == 0, err[-3000:]
    for r in e7:  # the meter's time, not the host's
        assert started + offset - 5 <= r.ts.timestamp() <= seen + offset + 5, (r, err[-2000:])
    said = [line for line in err.splitlines() if "WARNING" in line and "clock" in line]
    assert len(said) == 1, err[-3000:]


def test_the_live_page_shows_the_meters_day_while_the_host_clock_is_behind(tmp_path):
    """The page's "today", its curve and a reading's age follow the session's time (the meter's clock
    while the host's is three days off), not the host's wall clock."""
    from webproc import free_port

    app = virtual_app(tmp_path, START, host_offset=-3 * DAYS, settings_yaml=f"web: {{listen: '127.0.0.1:{free_port()}'}}")
    app.run(until=START + 900)  # serves the page meanwhile, stops it at the end
    api = app.web.api
    assert app.session.timekeeper.source.value == "meter"  # the host clock is still behind
    status = api.status()
    assert abs(status["now"] - app.simulation.meter.clock.show(START + 900)) <= WITHIN_S
    assert 0 <= status["now"] - status["power_at"] <= 20  # a fresh reading, not one "three days ahead"
    curve = api.power({})
    assert curve["day"] == "2026-11-22" and len(curve["t"]) >= 80
