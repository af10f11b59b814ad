"""A simulated day per dongle family through exactly what ``run`` builds (virtual clock, the
real simulator, the real CSV sink): schedules on time, CSV equal to what the meter produced,
daily files split at local midnight, every half hour once (push, INFC, or backfill alone)."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from logger.session import Phase
from logger.echonet.frame import ESV, decode_frame
from logger.simulate.embedded import virtual_app
from logger.simulate.meter import MeterConfig

TZ = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 11, 22, 23, 0, 5, tzinfo=TZ).timestamp()
END = datetime(2026, 11, 24, 0, 5, tzinfo=TZ).timestamp()
DAY = datetime(2026, 11, 23, tzinfo=TZ)


def read_rows(data_dir: Path) -> dict[str, list[list[str]]]:
    out = {}
    for f in sorted(data_dir.iterdir()):
        with f.open(newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["timestamp", "unitid", "epc", "dataid", "value"]
        out[f.name] = rows[1:]
    return out


def gets(sim, dialect: str) -> list[tuple[float, object]]:
    """(time, frame) of every ECHONET frame the logger sent."""
    n = 7 if dialect in ("rl7023-dss", "bp35c0") else 6
    out = []
    for t, data in sim.sent:
        if data.startswith(b"SKSENDTO"):
            out.append((t, decode_frame(data.split(b" ", n)[n])))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "dialect,notify",
    [("bp35a1", "inf"), ("rl7023-ips", "none"), ("rl7023-dss", "infc"), ("bp35c0", "inf")],
)
def test_simulated_day(tmp_path, dialect, notify):
    app = virtual_app(tmp_path, START, dialect, meter=MeterConfig(notify=notify), seed=3)
    app.run(until=END)
    sim, session = app.simulation, app.session
    meter = sim.meter
    assert session.phase is Phase.STOPPED
    assert session.stats["scans"] == 1 and session.stats["joins"] == 1
    # the 24 h PANA lifetime ends once in the day: a Get sent just before EVENT 29 is lost and
    # retried within its slot (a third of the 10 s cycle later); nothing else times out
    assert session.stats["timeouts"] <= 1 and session.stats["dropped_frames"] == 0

    files = read_rows(tmp_path / "data")
    assert set(files) == {"20261122-smartmeter.csv", "20261123-smartmeter.csv", "20261124-smartmeter.csv"}
    rows = []
    for name, file_rows in files.items():
        for r in file_rows:  # every row in the file of its own local date
            ts = datetime.fromisoformat(r[0])
            assert ts.utcoffset() == timedelta(hours=9)
            assert ts.strftime("%Y%m%d-smartmeter.csv") == name, r
            rows.append((ts, r[2], r[3], Decimal(r[4])))
    keys = Counter((ts, epc, dataid) for ts, epc, dataid, _ in rows)
    assert [k for k, c in keys.items() if c > 1] == []

    # --- schedule: what was asked, when
    sent = [(t, f) for t, f in gets(sim, dialect) if f.esv == ESV.GET]
    first_run = min(t for t, f in sent)
    by_epc: dict[int, list[float]] = {}
    for t, f in sent:
        for p in f.props:
            by_epc.setdefault(p.epc, []).append(t)

    # energy travels with its scale: every Get that reads E0/E3 also reads D3 and E1
    energy_gets = [f for _t, f in sent if any(p.epc in (0xE0, 0xE3) for p in f.props)]
    assert energy_gets and all({0xD3, 0xE1} <= {p.epc for p in f.props} for f in energy_gets)

    for epc, cycle in ((0xE7, 10), (0xE8, 60), (0xE0, 300), (0xE3, 300), (0xD7, 3600)):
        by_epc_times = by_epc[epc]
        # one request per aligned slot, no slot skipped from the first request to the end ...
        idx = [int((t + 9 * 3600) // cycle) for t in by_epc_times]
        if epc in (0xE1, 0xD3, 0xD7):
            assert len(idx) - len(set(idx)) <= 1  # at start, then hourly (start may share the hour)
        else:
            # once per slot; the only repeat allowed is the one retry of a Get lost to the PANA expiry
            assert len(idx) - len(set(idx)) <= session.stats["timeouts"], f"{epc:02X} asked twice in a slot"
        expected = set(range(int((first_run + 9 * 3600) // cycle) + 1, int((END + 9 * 3600) // cycle)))
        assert expected <= set(idx), f"{epc:02X}: slots without a request"
        # ... and sent within a few seconds of the slot start (never before it)
        late = [(t + 9 * 3600) % cycle for t in by_epc_times if int((t + 9 * 3600) // cycle) in expected]
        assert max(late) < 5.0, f"{epc:02X} late by {max(late):.1f} s"

    # --- values: equal to what the simulated meter produced
    e7 = [(ts, v) for ts, epc, _, v in rows if epc == "E7"]
    assert len(e7) >= 24 * 360
    for ts, v in e7:
        assert v == meter.power_w(ts.timestamp())
        assert ts.timestamp() % 10 < 5.0  # answered within the slot
    e0 = [(ts, v) for ts, epc, _, v in rows if epc == "E0"]
    assert len(e0) >= 24 * 12
    for ts, v in e0:
        assert abs(v - meter.true_energy_kwh(ts.timestamp())) <= Decimal("0.1")

    # --- half-hour energy: every slot of the full day once, with the meter's own timestamps
    ea = {ts: v for ts, epc, _, v in rows if epc == "EA"}
    eb = {ts for ts, epc, _, _v in rows if epc == "EB"}
    day_slots = [DAY + timedelta(minutes=30 * i) for i in range(48)]
    for slot in day_slots:
        assert slot in ea, f"missing EA {slot}"
        assert ea[slot] == meter.true_counter(slot.timestamp()) * Decimal("0.1")
        assert slot in eb
    assert all(ts.minute in (0, 30) and ts.second == 0 and ts.microsecond == 0 for ts in ea)
    if notify == "none":
        assert session.stats["backfilled"] >= 2 * 48
    if notify == "infc":
        assert meter.unacked_infc == 0 and meter.acked_infc >= 48
