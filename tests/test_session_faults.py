"""Faults survived end to end (virtual clock, real simulator, real CSV sink): every half hour
present exactly once afterwards (backfilled where the push was lost), no row written twice,
readings flowing again, and the recovery path the session took."""

from __future__ import annotations

import csv
import itertools
import logging
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID, DongleConfig
from logger.simulate.embedded import virtual_app
from logger.simulate.faults import Fault, FaultPlan
from logger.simulate.meter import MeterConfig

TZ = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 11, 22, 9, 0, 5, tzinfo=TZ).timestamp()
FAULT_AT = START + 3600
END = START + 3 * 3600 + 300  # 12:05:05


def rows_of(data_dir: Path) -> list[tuple[datetime, str, str, Decimal]]:
    out = []
    for f in sorted(data_dir.iterdir()):
        with f.open(newline="") as fh:
            lines = list(csv.reader(fh))
        for r in lines[1:]:
            assert len(r) == 5, r
            out.append((datetime.fromisoformat(r[0]), r[2], r[3], Decimal(r[4])))
    return out


def check_complete(root: Path, meter, end: float = END) -> list[tuple[datetime, str, str, Decimal]]:
    """No duplicate rows; every half hour from local midnight to the last settled one once, correct."""
    rows = rows_of(root / "data")
    keys = Counter((ts, epc, dataid) for ts, epc, dataid, _ in rows)
    assert [k for k, c in keys.items() if c > 1] == []
    ea = {ts: v for ts, epc, _, v in rows if epc == "EA"}
    midnight = datetime.fromtimestamp(START, TZ).replace(hour=0, minute=0, second=0)
    last = datetime.fromtimestamp(end - 120, TZ)
    slots = []
    t = midnight
    while t <= last:
        slots.append(t)
        t += timedelta(minutes=30)
    assert sorted(ea) == slots
    for slot in slots:
        assert ea[slot] == Decimal(meter.true_counter(slot.timestamp())) * Decimal("0.1"), slot
    # readings flow at the end of the run
    assert any(epc == "E7" and ts.timestamp() > end - 120 for ts, epc, _, _v in rows)
    return rows


def run(tmp_path, until=END, **kw):
    app = virtual_app(tmp_path, START, **kw)
    app.run(until=until)
    return app


def longest_gap(times: list[float]) -> float:
    return max(b - a for a, b in itertools.pairwise(times))


def test_one_percent_frame_loss(tmp_path):
    app = run(tmp_path, dongle=DongleConfig(faults=FaultPlan(loss_pct=1.0)), seed=1)
    counters = app.simulation.dongle.counters
    assert counters.requests_dropped + counters.answers_dropped > 5
    assert app.session.stats["timeouts"] > 5
    assert app.session.stats["joins"] == 1  # retries absorb the loss: no rejoin
    rows = check_complete(tmp_path, app.simulation.meter)
    e7 = [r for r in rows if r[1] == "E7"]
    assert len(e7) >= 0.97 * 3 * 360


def test_ten_minute_meter_silence(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    app = run(tmp_path, dongle=DongleConfig(faults=FaultPlan(scripted=[Fault(FAULT_AT, "silence", 600)])))
    rows = check_complete(tmp_path, app.simulation.meter)
    e7 = sorted(ts.timestamp() for ts, epc, _, _v in rows if epc == "E7")
    # nothing during the silence; the session is kept and polled, so the first slot after it has a reading
    assert not [t for t in e7 if FAULT_AT < t < FAULT_AT + 600]
    assert min(t for t in e7 if t > FAULT_AT) < FAULT_AT + 600 + 10
    assert app.session.stats["scans"] == 1 and app.session.stats["joins"] == 1
    assert app.session.stats["reopens"] == 0
    assert "polling on the same session" in caplog.text and "answers again after" in caplog.text
    assert "password is probably wrong" not in caplog.text  # a silent meter is not a credentials problem


def test_long_meter_silence_rejoins_after_the_grace_and_backs_off(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    app = run(tmp_path, dongle=DongleConfig(faults=FaultPlan(scripted=[Fault(FAULT_AT, "silence", 1800)])),
              settings_yaml="session: {silence_rejoin_s: 300}")
    rows = check_complete(tmp_path, app.simulation.meter)
    e7 = sorted(ts.timestamp() for ts, epc, _, _v in rows if epc == "E7")
    assert min(t for t in e7 if t > FAULT_AT) < FAULT_AT + 1800 + 600
    # the silent meter refuses rejoins (EVENT 24); the known meter is retried twice before one rescan
    assert 2 <= app.session.stats["joins"] <= 8 and app.session.stats["reopens"] == 0
    assert "has been silent for" in caplog.text and "password is probably wrong" not in caplog.text


@pytest.mark.parametrize("kind,event", [("drop", "26"), ("drop-28", "28")])
def test_session_drop(tmp_path, caplog, kind, event):
    caplog.set_level(logging.INFO)
    app = run(tmp_path, dongle=DongleConfig(faults=FaultPlan(scripted=[Fault(FAULT_AT, kind)])))
    assert app.simulation.dongle.counters.session_drops == 1
    assert f"PANA session ended (EVENT {event}" in caplog.text
    assert app.session.stats["joins"] == 2 and app.session.stats["scans"] == 1
    rows = check_complete(tmp_path, app.simulation.meter)
    e7 = sorted(ts.timestamp() for ts, epc, _, _v in rows if epc == "E7")
    assert longest_gap(e7) < 60


def test_session_expiry_reauthenticates_and_keeps_the_schedule(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    app = run(tmp_path, dongle=DongleConfig(session_lifetime=1800))
    assert caplog.text.count("PANA session lifetime expired (EVENT 29)") >= 5
    assert caplog.text.count("PANA re-authentication completed (EVENT 25)") >= 5
    expiries = caplog.text.count("PANA session lifetime expired (EVENT 29)")
    # a Get in flight when the session expires is lost and retried (at most one per expiry)
    assert app.session.stats["joins"] == 1 and app.session.stats["timeouts"] <= expiries
    assert app.simulation.commands(b"SKJOIN") == app.simulation.commands(b"SKJOIN")[:1]
    rows = check_complete(tmp_path, app.simulation.meter)
    e7 = sorted(ts.timestamp() for ts, epc, _, _v in rows if epc == "E7")
    assert longest_gap(e7) < 20  # at most one 10-s slot delayed by a re-authentication


def test_dongle_reset(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    app = run(tmp_path, dongle=DongleConfig(faults=FaultPlan(scripted=[Fault(FAULT_AT, "reset")])))
    assert app.simulation.dongle.counters.resets == 1
    s = app.session.stats
    assert s["joins"] == 2 and s["scans"] == 1 and s["reopens"] == 0
    # credentials were given to the reset dongle again before the rejoin
    assert len(app.simulation.commands(b"SKSETPWD")) == 2
    rows = check_complete(tmp_path, app.simulation.meter)
    e7 = sorted(ts.timestamp() for ts, epc, _, _v in rows if epc == "E7")
    assert longest_gap(e7) < 60


def test_unplug_reopens_and_recovers(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    app = run(tmp_path, dongle=DongleConfig(faults=FaultPlan(scripted=[Fault(FAULT_AT, "unplug")])))
    assert app.simulation.dongle.counters.unplugs == 1
    assert "lost the dongle: simulated dongle unplugged" in caplog.text
    assert app.simulation.opens == 2
    # the dongle lost power: joined again from the scan cache, no new scan
    assert app.session.stats["scans"] == 1 and app.session.stats["joins"] == 2
    check_complete(tmp_path, app.simulation.meter)


def test_port_open_failures_back_off(tmp_path):
    """A port that is not there yet: open attempts spaced by the growing back-off, then recovered."""
    from logger.link.backoff import REOPEN_BACKOFF
    from logger.transport import TransportError

    app = virtual_app(tmp_path, START)
    sim, clock = app.simulation, app.runner.clock
    attempts: list[float] = []

    def flaky_open():
        attempts.append(clock.time())
        if len(attempts) <= 4:
            raise TransportError("/dev/ttyUSB0 does not exist: is the dongle plugged in?")
        return sim.open()

    app.runner._open = flaky_open
    app.run(until=START + 600)
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(attempts)]
    assert gaps[:4] == list(REOPEN_BACKOFF[:4])
    assert app.runner.recorded > 0


def test_garbage_bytes_are_counted_and_reading_goes_on(tmp_path):
    app = run(tmp_path, dongle=DongleConfig(faults=FaultPlan(scripted=[Fault(FAULT_AT, "garbage", 40)])))
    assert app.simulation.dongle.counters.garbage_bytes == 40
    assert app.session.stats["dropped_lines"] >= 1
    assert app.session.stats["joins"] == 1
    check_complete(tmp_path, app.simulation.meter)


def test_duty_limit_pauses_and_resumes(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    app = run(tmp_path, dongle=DongleConfig(duty_cap_s=3.0))
    assert "transmit-time limit reached (EVENT 32)" in caplog.text
    assert "transmit-time limit released (EVENT 33)" in caplog.text
    # paused, not treated as a dead meter
    assert app.session.stats["joins"] == 1 and app.session.stats["reopens"] == 0
    assert "meter unreachable" not in caplog.text
    sends = app.simulation.commands(b"SKSENDTO")
    assert longest_gap(sends) > 300  # requests really paused while limited
    rows = rows_of(tmp_path / "data")
    assert len(Counter((ts, e, d) for ts, e, d, _ in rows)) == len(rows)
    assert any(e == "E7" and ts.timestamp() > END - 600 for ts, e, _, _v in rows)


def test_meter_without_d3(tmp_path):
    app = run(tmp_path, until=START + 3600, meter=MeterConfig(coefficient=None))
    rows = rows_of(tmp_path / "data")
    assert not [r for r in rows if r[1] == "D3"]
    assert [r for r in rows if r[1] == "E1"]
    e0 = [(ts, v) for ts, epc, _, v in rows if epc == "E0"]
    assert len(e0) >= 11
    for ts, v in e0:  # coefficient 1
        assert abs(v - app.simulation.meter.true_energy_kwh(ts.timestamp())) <= Decimal("0.1")


def test_meter_answering_fewer_epcs_than_configured(tmp_path, caplog):
    """The meter ignores Gets of more than 2 EPCs: the session learns a smaller batch."""
    caplog.set_level(logging.INFO)
    app = run(tmp_path, meter=MeterConfig(max_epcs_per_get=2))
    assert "the meter ignores a Get of 6 properties but answers one" in caplog.text
    assert app.session._batch <= 2
    assert app.session.stats["joins"] == 1
    rows = check_complete(tmp_path, app.simulation.meter)
    for epc in ("D7", "E1", "E0", "E3", "E8"):
        assert any(r[1] == epc for r in rows), epc
    e0 = [(ts, v) for ts, epc, _, v in rows if epc == "E0"]
    for ts, v in e0:
        assert abs(v - app.simulation.meter.true_energy_kwh(ts.timestamp())) <= Decimal("0.1")


def test_counter_wrap(tmp_path):
    """A 5-digit counter that wraps within the run: every logged value is the meter's own."""
    meter_cfg = MeterConfig(digits=5, initial_normal=99_985, unit=0x01)
    app = run(tmp_path, meter=meter_cfg)
    meter = app.simulation.meter
    rows = rows_of(tmp_path / "data")
    e0 = [(ts, v) for ts, epc, _, v in rows if epc == "E0"]
    values = [v for _, v in e0]
    assert max(values) > Decimal(9990) and min(values) < Decimal(10)  # wrapped during the run
    for ts, v in e0:
        assert v == Decimal(meter.true_counter(ts.timestamp())) * Decimal("0.1")
        assert v < Decimal(10000)
    ea = {ts: v for ts, epc, _, v in rows if epc == "EA"}
    for ts, v in ea.items():
        assert v == Decimal(meter.true_counter(ts.timestamp())) * Decimal("0.1")
    assert any(r[1] == "D7" and r[3] == Decimal(5) for r in rows)


def _assert_no_secret_leaked(tmp_path, app, caplog, capsys, secrets):
    text = "\n".join(r.getMessage() for r in caplog.records) + caplog.text + "".join(capsys.readouterr())
    data = "".join(p.read_text() for p in (tmp_path / "data").glob("*")) if (tmp_path / "data").exists() else ""
    state = "".join(p.read_text() for p in (tmp_path / "state").glob("*")) if (tmp_path / "state").exists() else ""
    for secret in secrets:
        assert secret not in text and secret not in data and secret not in state
        assert secret not in repr(app.session.cfg)


def test_wrong_password(tmp_path, caplog, capsys):
    """The meter's PairID matches the B-route ID, so it is surely ours: EVENT 24 blames the credentials."""
    caplog.set_level(logging.DEBUG)
    password = "WrongPass123"
    app = run(tmp_path, until=START + 3600, env={"BROUTE_ID": DEMO_RBID, "BROUTE_PASSWORD": password})
    joins = app.simulation.commands(b"SKJOIN")
    assert 1 <= len(joins) <= 3
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and all("BROUTE_ID" in r.getMessage() and "BROUTE_PASSWORD" in r.getMessage() for r in errors)
    assert app.runner.recorded == 0
    _assert_no_secret_leaked(tmp_path, app, caplog, capsys, [DEMO_RBID, password])


def test_wrong_id_never_joins_a_meter_whose_pair_id_differs(tmp_path, caplog, capsys):
    """A wrong B-route ID: the only meter heard beacons another PairID, so it is never joined
    (it could be a neighbour's); the error names BROUTE_ID."""
    caplog.set_level(logging.DEBUG)
    rbid = "00112233445566778899AABBCCDDEEFF"
    app = run(tmp_path, until=START + 3600, env={"BROUTE_ID": rbid, "BROUTE_PASSWORD": DEMO_PASSWORD})
    assert app.simulation.commands(b"SKJOIN") == []
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and all("BROUTE_ID" in r.getMessage() for r in errors)
    assert app.runner.recorded == 0
    _assert_no_secret_leaked(tmp_path, app, caplog, capsys, [rbid, DEMO_PASSWORD])
