"""Session details behind the recovery ladder: late answers and per-attempt TIDs, SKTERM before
a join over a held session, backfill that gives up on slots the meter no longer has."""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from logger.session import Phase
from logger.echonet.frame import ESV, decode_frame
from logger.simulate.dongle import DongleConfig
from logger.simulate.embedded import build_simulation, virtual_app
from logger.simulate.faults import Fault, FaultPlan
from logger.simulate.meter import MeterConfig
from logger.state import SCAN_FILE

TZ = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 11, 22, 9, 0, 5, tzinfo=TZ).timestamp()


def rows(root):
    out = []
    for f in sorted((root / "data").iterdir()):
        with f.open(newline="") as fh:
            out += list(csv.reader(fh))[1:]
    return out


def test_late_answers_are_taken_once(tmp_path):
    """Answers arrive after the 10-s timeout: the retry's wait accepts the first attempt's TID,
    the retry's own answer is dropped as unexpected; nothing is recorded twice."""
    app = virtual_app(tmp_path, START, dongle=DongleConfig(latency=(10.5, 11.0)))
    app.run(until=START + 1800)
    s = app.session.stats
    assert s["timeouts"] > 10
    assert s["dropped_frames"] > 10  # the superseded attempts' answers
    assert s["joins"] == 1 and s["reopens"] == 0
    data = rows(tmp_path)
    keys = Counter((r[0], r[2], r[3]) for r in data)
    assert [k for k, c in keys.items() if c > 1] == []
    e7 = [r for r in data if r[2] == "E7"]
    assert len(e7) > 50
    for r in e7:  # recorded when the answer arrived: the meter's power at that moment
        assert int(r[4]) == app.simulation.meter.power_w(datetime.fromisoformat(r[0]).timestamp())


def test_rejoin_ends_the_held_session_first(tmp_path):
    """A silent meter: the dongle still holds the PANA session, so the first rejoin is SKTERM →
    SKJOIN (a bare SKJOIN would get FAIL ER10); later ones follow a failed join (EVENT 24, no
    session) and no SKJOIN is refused."""
    at = START + 1200
    app = virtual_app(tmp_path, START, dongle=DongleConfig(faults=FaultPlan(scripted=[Fault(at, "silence", 300)])),
                      settings_yaml="session: {silence_rejoin_s: 60}")  # rejoin during the silence
    app.run(until=START + 3600)
    sent = [(t, d.split(b" ")[0].strip()) for t, d in app.simulation.sent]
    joins = [i for i, (_t, c) in enumerate(sent) if c == b"SKJOIN"]
    assert len(joins) >= 2
    before = [c for _t, c in sent[: joins[1]] if c in (b"SKTERM", b"SKJOIN", b"SKSENDTO")]
    assert before[-1] == b"SKTERM", "rejoin without ending the held session"
    assert app.session.stats["joins"] == len(joins)  # each SKJOIN was accepted at once
    assert app.session.phase is Phase.STOPPED and app.runner.recorded > 0


def test_backfill_gives_up_on_slots_the_meter_no_longer_has(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    first = virtual_app(tmp_path, START)
    first.run(until=START + 300)
    path = tmp_path / "state" / SCAN_FILE
    state = json.loads(path.read_text())
    state["last_slot"] = datetime(2026, 11, 19, 12, 0, tzinfo=TZ).timestamp()  # 3 days ago
    path.write_text(json.dumps(state))
    clock = first.simulation.clock
    sim = build_simulation(clock, "bp35a1", meter=MeterConfig(history_days=1), record_sent=True)
    second = virtual_app(tmp_path, clock.time(), simulation=sim)
    second.run(until=clock.time() + 3 * 3600)
    day_sets = []
    for _t, data in sim.sent:
        if data.startswith(b"SKSENDTO"):
            frame = decode_frame(data.split(b" ", 6)[6])
            if frame.esv == ESV.SETC and frame.props[0].epc == 0xE5:
                day_sets.append(frame.props[0].edt[0])
    # each old day asked for at most 3 times (then given up), never hammered
    counts = Counter(day_sets)
    assert 1 <= counts[1] <= 3 and 1 <= counts[2] <= 3 and 1 <= counts[3] <= 3
    assert "is not in the meter's history; giving up on it" in caplog.text
    frontier = json.loads(path.read_text())["last_slot"]
    assert frontier >= clock.time() - 3600  # moved past the holes up to the newest slots
    keys = Counter((r[0], r[2], r[3]) for r in rows(tmp_path))
    assert [k for k, c in keys.items() if c > 1] == []
    today = [r for r in rows(tmp_path) if r[2] == "EA" and r[0].startswith("2026-11-22")]
    assert len(today) == len({r[0] for r in today}) >= 24


def test_scan_cache_keeps_slots_recorded_beyond_a_hole(tmp_path):
    from logger.state import ScanResult, SessionState, load_state, save_state

    scan = ScanResult(0x3B, 0x8257, "001C640003DD8257", "FE80:0000:0000:0000:021C:6400:03DD:8257", 5, "bp35a1")
    state = SessionState(scan, last_slot=START - 7200, recorded=(START - 1800,))
    save_state(tmp_path, state)
    loaded = load_state(tmp_path)
    assert loaded == state
    # an older scan.json without the field still loads
    (tmp_path / SCAN_FILE).write_text(json.dumps({"version": 1, "scan": None, "last_slot": START - 3600}))
    assert load_state(tmp_path) == SessionState(None, START - 3600, ())


def test_scan_ladder_starts_low_then_jumps_to_six_and_prefers_the_known_duration():
    from logger.link.backoff import scan_ladder

    assert scan_ladder(4, 8) == [4, 6, 7, 8]  # a sweep at 5 (8.9 s) rarely finds what 4 missed and 6 would not
    assert scan_ladder(5, 8) == [5, 6, 7, 8]
    assert scan_ladder(6, 8) == [6, 7, 8]
    assert scan_ladder(3, 4) == [3]  # the max caps the ladder
    assert scan_ladder(4, 8, known=6) == [6, 7, 8]  # rescans start where this meter was found
    assert scan_ladder(4, 8, known=12) == [4, 6, 7, 8]  # a known duration outside the range is ignored
