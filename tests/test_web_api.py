"""The live page's data (logger.web.history, logger.web.api) from CSV files written by the real
CSV sink: today's E7 curve, half-hour bars and day kWh/cost for today and yesterday (bought and
sold apart, backfilled half-hours the same as live ones, equal to ``summary``), the status from
the files and the live feed, the parameters the API takes."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from logger.readings import Reading
from logger.session import Phase
from logger.sinks.csv_sink import CsvSink
from logger.summary import find_files, summarize
from logger.web.api import Api, BadRequest, check_params
from logger.web.feed import LiveFeed
from logger.web.history import History

JST = ZoneInfo("Asia/Tokyo")
PATTERN = "%Y%m%d-smartmeter.csv"
YESTERDAY = datetime(2026, 11, 21, tzinfo=JST)
TODAY = datetime(2026, 11, 22, tzinfo=JST)
NOW = TODAY + timedelta(hours=12, minutes=10)
PRICE = Decimal(31)
HALF = timedelta(minutes=30)
BACKFILLED = {TODAY + timedelta(hours=3, minutes=30), TODAY + timedelta(hours=4), TODAY + timedelta(hours=4, minutes=30)}


def r(t: datetime, epc: str, value, dataid: str = "", unitid: str = "smartmeter") -> Reading:
    return Reading(t, unitid, epc, dataid, Decimal(str(value)))


def ea(t: datetime) -> Decimal:
    """The meter's cumulative kWh at boundary t: 0.5 per half-hour yesterday, 0.25 today."""
    if t < TODAY:
        return Decimal(1000) + Decimal("0.5") * int((t - YESTERDAY) / HALF)
    return Decimal(1024) + Decimal("0.25") * int((t - TODAY) / HALF)


def eb(t: datetime) -> Decimal:
    return Decimal(200) + Decimal("0.1") * int((t - YESTERDAY) / HALF)


def fixture_rows(backfill_late: bool) -> list[list[Reading]]:
    """Batches as the runner hands them to the sink: boundaries as they happen, E7 every 10 s
    from 11:00; with ``backfill_late`` three of today's boundaries come at the end (a backfill)."""
    batches, late = [], []
    t = YESTERDAY
    while t <= TODAY + timedelta(hours=12):
        batch = [r(t, "EA", ea(t)), r(t, "EB", eb(t))]
        (late if backfill_late and t in BACKFILLED else batches).append(batch)
        t += HALF
    t = TODAY + timedelta(hours=11)
    while t <= NOW:
        batches.append([r(t, "E7", 400 + int((t - TODAY).total_seconds()) % 97 - (600 if t.minute == 30 else 0)),
                        r(t, "E7", 5, unitid="arduino")])  # another unit's row: not the meter's
        t += timedelta(seconds=10)
    batches.append([r(TODAY + timedelta(hours=12), "E0", "1030"), r(TODAY + timedelta(hours=12), "E3", "204.8")])
    batches.append([r(TODAY + timedelta(hours=12, minutes=5), "E0", "1030.1"),
                    r(TODAY + timedelta(hours=12, minutes=5), "E3", "204.8"),
                    r(TODAY + timedelta(hours=12, minutes=5), "E8", "12.5", "R"),
                    r(TODAY + timedelta(hours=12, minutes=5), "E8", "3", "T")])
    return batches + late


def write(directory: Path, batches: list[list[Reading]]) -> None:
    sink = CsvSink(directory, PATTERN, JST)
    for batch in batches:
        sink.write(batch)
    sink.close()


@pytest.fixture
def data(tmp_path) -> Path:
    d = tmp_path / "data"
    write(d, fixture_rows(backfill_late=True))
    return d


def api_for(directory: Path | None, now: datetime = NOW, price: Decimal | None = PRICE) -> Api:
    return Api(LiveFeed("smartmeter"), History(directory, PATTERN, JST, "smartmeter", price), clock=now.timestamp)


def test_power_curve_is_the_e7_rows_of_todays_file(data):
    api = api_for(data)
    doc = api.power({})
    assert doc["day"] == "2026-11-22" and doc["start"] == TODAY.timestamp()
    assert doc["end"] == (TODAY + timedelta(days=1)).timestamp()
    expected = [(b[0].timestamp.timestamp(), float(b[0].value)) for b in fixture_rows(False) if b[0].epc == "E7"]
    assert list(zip(doc["t"], doc["w"])) == expected
    assert len(expected) == 421 and min(doc["w"]) < 0  # selling shows as negative power
    assert api.power({"day": "today"}) == doc == api.power({"day": "2026-11-22"})
    assert list(api.power({"day": "yesterday"})["t"]) == []  # no E7 rows in yesterday's file


def test_power_curve_reads_only_what_was_appended(data):
    history = History(data, PATTERN, JST, "smartmeter", None)
    t0, _ = history.power(TODAY.date())
    path = data / "20261122-smartmeter.csv"
    with path.open("a") as fh:
        fh.write("2026-11-22T12:10:10.000+09:00,smartmeter,E7,,777\n2026-11-22T12:10:20.000+09:00,smart")  # torn
    t1, w1 = history.power(TODAY.date())
    assert len(t1) == len(t0) + 1 and w1[-1] == 777.0
    with path.open("a") as fh:
        fh.write("meter,E7,,-5\n")
    t2, w2 = history.power(TODAY.date())
    assert len(t2) == len(t0) + 2 and w2[-1] == -5.0
    path.write_text(path.read_text().splitlines(keepends=True)[0])  # replaced by a file with a header only
    assert [list(x) for x in history.power(TODAY.date())] == [[], []]


def test_energy_bars_and_day_totals(data):
    doc = api_for(data).energy()
    assert doc["price_jpy_per_kwh"] == 31.0
    yesterday, today = doc["days"]
    assert yesterday["day"] == "2026-11-21" and today["day"] == "2026-11-22"
    assert yesterday["bought_kwh"] == 24.0 and yesterday["sold_kwh"] == pytest.approx(4.8)
    assert yesterday["cost_jpy"] == 744.0 and yesterday["missing_halfhours"] == 0
    slots = yesterday["slots"]
    assert len(slots["t"]) == 48 and slots["t"][0] == YESTERDAY.timestamp()
    assert set(slots["bought"]) == {0.5} and all(v == pytest.approx(0.1) for v in slots["sold"])
    # today: 24 finished half-hours from EA, the one under way from E0 (12:00 -> 12:05)
    assert today["bought_kwh"] == 6.0 and today["cost_jpy"] == 186.0 and today["missing_halfhours"] == 0
    assert today["slots"]["bought"] == [0.25] * 24 + [pytest.approx(0.1)]
    assert len(today["slots"]["t"]) == 25  # nothing after now


def test_backfilled_halfhours_look_the_same_as_live_ones(data, tmp_path):
    in_order = tmp_path / "in-order"
    write(in_order, fixture_rows(backfill_late=False))
    assert (data / "20261122-smartmeter.csv").read_text() != (in_order / "20261122-smartmeter.csv").read_text()
    assert api_for(data).energy() == api_for(in_order).energy()


def test_energy_equals_what_summary_computes(data):
    files = find_files(data, PATTERN)
    halves = list(summarize(files, JST, "halfhour", YESTERDAY.date(), TODAY.date(), "smartmeter", NOW, print))
    days = list(summarize(files, JST, "day", YESTERDAY.date(), TODAY.date(), "smartmeter", NOW, print))
    doc = api_for(data).energy()
    got = [(t, b, s) for d in doc["days"] for t, b, s in zip(d["slots"]["t"], d["slots"]["bought"], d["slots"]["sold"])]
    assert got == [(h.start.timestamp(), float(h.bought.kwh), float(h.sold.kwh) if h.sold.kwh is not None else None)
                   for h in halves]
    assert [(d["bought_kwh"], d["cost_jpy"]) for d in doc["days"]] == [
        (float(s.bought.kwh), float(s.cost(PRICE))) for s in days]


def test_no_price_no_cost_and_no_files_no_bars(data, tmp_path):
    doc = api_for(data, price=None).energy()
    assert doc["price_jpy_per_kwh"] is None and all(d["cost_jpy"] is None for d in doc["days"])
    empty = api_for(tmp_path / "nothing-here").energy()
    assert [d["bought_kwh"] for d in empty["days"]] == [None, None]
    off = api_for(None)  # csv.enabled: false
    assert list(off.power({})["t"]) == [] and off.status()["csv"] is False
    assert [d["slots"]["t"] for d in off.energy()["days"]] == [[], []]


def test_energy_is_cached_until_a_file_changes_or_a_halfhour_ends(data, monkeypatch):
    api = api_for(data)
    calls = []
    import logger.summary as summary_module

    real = summary_module.summarize
    monkeypatch.setattr(summary_module, "summarize", lambda *a: calls.append(1) or real(*a))
    first = api.energy()
    assert len(calls) == 2
    assert api.energy() is not None and len(calls) == 2
    with (data / "20261122-smartmeter.csv").open("a") as fh:
        fh.write("2026-11-22T12:10:10.000+09:00,smartmeter,E7,,1\n")
    assert api.energy() == first and len(calls) == 4
    api.clock = (NOW + timedelta(minutes=25)).timestamp
    api.energy()
    assert len(calls) == 6


def test_status_from_the_csv_then_from_live_readings(data):
    api = api_for(data)
    s = api.status()
    assert s["state"] == "starting" and s["timezone"] == "Asia/Tokyo" and s["csv"] is True
    last_e7 = [b[0] for b in fixture_rows(False) if b[0].epc == "E7"][-1]
    assert s["power_w"] == float(last_e7.value) and s["power_at"] == last_e7.timestamp.timestamp()
    assert (s["current_r_a"], s["current_t_a"]) == (12.5, 3.0)
    assert (s["bought_kwh"], s["sold_kwh"]) == (1030.1, 204.8)
    assert s["last_reading"] == last_e7.timestamp.timestamp()
    assert s["lqi"] is None and s["rssi_dbm"] is None and s["price_jpy_per_kwh"] == 31.0
    later = NOW + timedelta(seconds=10)
    api.feed.write([r(later, "E7", -1500), r(later, "E8", "20", "R")])
    api.feed.write([r(TODAY + timedelta(hours=12), "EA", ea(TODAY + timedelta(hours=12)))])  # backfill: older
    s = api.status()
    assert s["power_w"] == -1500.0 and s["last_reading"] == later.timestamp() and s["current_r_a"] == 20.0
    assert s["current_t_a"] == 3.0  # still the file's


@pytest.mark.parametrize(("phase", "state"), [(Phase.RUN, "connected"), (Phase.CONNECTING, "scanning"),
                                              (Phase.RECOVER, "recovering"), (Phase.CLOSED, "no_dongle")])
def test_status_names_the_phase_and_the_signal(data, phase, state):
    api = api_for(data)
    api.feed.session = SimpleNamespace(phase=phase, link=SimpleNamespace(meter_lqi=120, meter_lqi_at=NOW.timestamp()))
    s = api.status()
    assert s["state"] == state and s["lqi"] == 120 and s["rssi_dbm"] == -71.3 and s["signal_at"] == NOW.timestamp()


def test_parameters():
    assert check_params([], ()) == {}
    assert check_params([("day", "today")], ("day",)) == {"day": "today"}
    with pytest.raises(BadRequest, match="unknown parameter 'x'"):
        check_params([("x", "1")], ("day",))
    with pytest.raises(BadRequest, match="'day' given twice"):
        check_params([("day", "today"), ("day", "yesterday")], ("day",))
    api = api_for(None)
    for bad in ("tomorrow", "2026-11-20", "2026-11-23", "", "../etc"):
        with pytest.raises(BadRequest, match="parameter 'day' must be today, yesterday, 2026-11-21 or 2026-11-22"):
            api.power({"day": bad})


def test_feed_keeps_a_bounded_backlog_and_says_when_a_client_fell_behind():
    from logger.web.feed import BACKLOG

    feed = LiveFeed("smartmeter")
    t = NOW
    feed.write([r(t, "E7", 1), r(t, "E7", 2, unitid="other")])
    seq, readings, lost, closed = feed.wait(0, 0)
    assert (seq, [x.value for x in readings], lost, closed) == (1, [Decimal(1)], False, False)
    feed.write([r(t, "E7", 3, unitid="other")])  # nothing of the meter's: no batch
    assert feed.seq == 1
    for i in range(BACKLOG + 5):
        feed.write([r(t + timedelta(seconds=i), "E7", i)])
    seq, readings, lost, _ = feed.wait(1, 0)
    assert lost and len(readings) == BACKLOG and seq == BACKLOG + 6
    assert feed.wait(seq - 1, 0)[2] is False
    feed.close(0)
    assert feed.wait(seq, 5)[3] is True  # returns at once
