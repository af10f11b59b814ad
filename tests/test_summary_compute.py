"""logger.summary: kWh per period from the CSV rows (EA/EB boundaries, E0/E3 fallback, wrap, gaps)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from logger.echonet.meter import counter_delta
from logger.readings import Reading
from logger.sinks.csv_sink import CsvSink
from logger.summary import (
    Context,
    Issue,
    Stats,
    SummaryError,
    energy_delta,
    find_files,
    summarize,
)

JST = ZoneInfo("Asia/Tokyo")
PATTERN = "%Y%m%d-smartmeter.csv"
LATER = datetime(2030, 1, 1, tzinfo=UTC)  # "now" after every test day


def write(directory: Path, rows: list[Reading], tz=JST) -> None:
    sink = CsvSink(directory, PATTERN, tz)
    sink.write(rows)
    sink.close()


def r(t: datetime, epc: str, value, unitid: str = "smartmeter") -> Reading:
    return Reading(t, unitid, epc, "", Decimal(str(value)))


def run(directory: Path, first: date, last: date, by: str = "day", now: datetime = LATER, tz=JST, unitid="smartmeter"):
    issues: list[Issue] = []
    stats = Stats()
    out = list(summarize(find_files(directory, PATTERN), tz, by, first, last, unitid, now, issues.append, stats))
    return out, issues, stats


def halfhours(start: datetime, end: datetime):
    t = start
    while t <= end:
        yield t
        t += timedelta(minutes=30)


def test_day_totals_are_exact_ea_differences_between_midnights(tmp_path):
    start = datetime(2026, 11, 20, tzinfo=JST)
    rows, value = [], Decimal("3871.2")
    expected = {}
    for i, t in enumerate(halfhours(start, start + timedelta(days=2))):
        rows += [r(t, "EA", value), r(t, "EB", Decimal("12.5") + Decimal("0.1") * (i // 10))]
        value += Decimal("0.1") * (i % 4)  # usage of the slot starting at t
        expected.setdefault(t.date(), Decimal(0))
        expected[t.date()] += Decimal("0.1") * (i % 4)
    write(tmp_path, rows)
    out, issues, _ = run(tmp_path, date(2026, 11, 20), date(2026, 11, 21))
    assert [s.label for s in out] == ["2026-11-20", "2026-11-21"]
    for s in out:
        assert s.bought.kwh == expected[s.start.date()]  # exact Decimal, no float error
        assert isinstance(s.bought.kwh, Decimal)
        assert (s.bought.source, s.bought.missing, s.sold.source) == ("EA", 0, "EB")
        assert s.bought.covered == (s.start.astimezone(UTC), s.end.astimezone(UTC))
    assert out[0].sold.kwh == Decimal("0.4")  # 12.5 -> 12.9 between the midnights (i 0 -> 48)
    assert out[0].cost(Decimal(31)) == out[0].bought.kwh * 31
    assert issues == []


def test_counter_wrap_uses_d7_e1_and_matches_counter_delta(tmp_path):
    start = datetime(2026, 11, 20, tzinfo=JST)
    # D7 = 6 digits, E1 = 0.1 kWh, D3 = 1: the counter wraps at 100000 kWh.
    rows = [r(start, "D3", 1), r(start, "D7", 6), r(start, "E1", "0.1")]
    raw = 999_900
    for t in halfhours(start, start + timedelta(days=1)):
        rows.append(r(t, "EA", Decimal(raw) / 10))
        raw = (raw + 7) % 10**6
    write(tmp_path, rows)
    (day,), issues, _ = run(tmp_path, date(2026, 11, 20), date(2026, 11, 20))
    assert day.bought.kwh == Decimal(counter_delta((999_900 + 48 * 7) % 10**6, 999_900, 6)) / 10 == Decimal("33.6")
    assert issues == []


def test_wrap_with_coefficient_and_context_from_an_earlier_file(tmp_path):
    d0 = datetime(2026, 11, 18, 12, tzinfo=JST)
    write(tmp_path, [r(d0, "D3", 10), r(d0, "D7", 5), r(d0, "E1", "0.01")])  # wraps at 10^5*10*0.01 = 10000 kWh
    start = datetime(2026, 11, 20, tzinfo=JST)
    write(tmp_path, [r(start, "EA", "9999.5"), r(start + timedelta(days=1), "EA", "1.5")])
    (day,), issues, _ = run(tmp_path, date(2026, 11, 20), date(2026, 11, 20))
    assert day.bought.kwh == Decimal("2.0")
    assert issues == []


def test_counter_going_down_without_context_gives_no_number_and_an_issue(tmp_path):
    start = datetime(2026, 11, 20, tzinfo=JST)
    write(tmp_path, [r(start, "EA", "99999.5"), r(start + timedelta(days=1), "EA", "1.5")])
    (day,), issues, _ = run(tmp_path, date(2026, 11, 20), date(2026, 11, 20))
    assert day.bought.kwh is None and day.bought.missing == 48
    assert len(issues) == 1 and "went down from 99999.5 to 1.5" in issues[0].reason
    assert issues[0].path.endswith("20261121-smartmeter.csv") and issues[0].line == 2


def test_energy_delta_refuses_values_that_are_not_counts():
    ctx = Context(Decimal(1), Decimal("0.1"), 6)
    assert energy_delta(Decimal("1.5"), Decimal("99999.9"), ctx) == Decimal("1.6")
    assert energy_delta(Decimal("1.55"), Decimal("99999.9"), ctx) is None  # not a multiple of 0.1 kWh
    assert energy_delta(Decimal("1.5"), Decimal(200000), ctx) is None  # does not fit 6 digits
    assert energy_delta(Decimal(5), Decimal(2), Context()) == Decimal(3)


def test_gaps_are_reported_as_missing_halfhours_not_invented(tmp_path):
    start = datetime(2026, 11, 20, tzinfo=JST)
    rows = []
    for i, t in enumerate(halfhours(start, start + timedelta(days=1))):
        if t.hour in (3, 4) or t >= start + timedelta(hours=22):  # a gap in the night, and the end of the day
            continue
        rows.append(r(t, "EA", 100 + i))
    write(tmp_path, rows)
    (day,), issues, _ = run(tmp_path, date(2026, 11, 20), date(2026, 11, 20))
    assert issues == []
    # the counter spans 00:00 .. 21:30 exactly: the 03:00-05:00 hole inside it is still counted
    assert day.bought.kwh == Decimal(43)
    assert day.bought.missing == 5  # 21:30-22:00 ... 23:30-24:00
    halves, _, _ = run(tmp_path, date(2026, 11, 20), date(2026, 11, 20), by="halfhour")
    assert len(halves) == 48
    unknown = [s.label[11:16] for s in halves if s.bought.kwh is None]
    assert unknown == ["02:30", "03:00", "03:30", "04:00", "04:30", "21:30", "22:00", "22:30", "23:00", "23:30"]
    assert all(s.bought.kwh == 1 for s in halves if s.bought.kwh is not None)
    assert sum(s.bought.missing for s in halves) == 10


def test_e0_fallback_first_last_in_the_period_and_its_coverage(tmp_path):
    start = datetime(2026, 11, 20, tzinfo=JST)
    rows = [r(start + timedelta(minutes=m), "E0", Decimal(500) + Decimal(m) / 100) for m in range(3, 24 * 60, 5)]
    rows += [r(start + timedelta(hours=h), "E3", Decimal(h) / 4) for h in range(10, 15)]
    write(tmp_path, rows)
    (day,), _, _ = run(tmp_path, date(2026, 11, 20), date(2026, 11, 20))
    assert day.bought.source == "E0"
    assert day.bought.kwh == Decimal("14.35")  # (1438 - 3) / 100
    assert day.bought.covered == ((start + timedelta(minutes=3)).astimezone(UTC),
                                  (start + timedelta(minutes=1438)).astimezone(UTC))
    assert day.bought.missing == 2  # 00:00-00:30 and 23:30-24:00 are only partly covered
    assert (day.sold.source, day.sold.kwh) == ("E3", Decimal(1))


def test_future_halfhours_are_not_missing(tmp_path):
    start = datetime(2026, 11, 20, tzinfo=JST)
    write(tmp_path, [r(t, "EA", 10) for t in halfhours(start, start + timedelta(hours=6))])
    now = start + timedelta(hours=6, minutes=10)
    (day,), _, _ = run(tmp_path, date(2026, 11, 20), date(2026, 11, 20), now=now)
    assert day.bought.missing == 0 and day.bought.kwh == 0


def test_month_and_empty_days(tmp_path):
    start = datetime(2026, 10, 31, tzinfo=JST)
    write(tmp_path, [r(start, "EA", 1), r(start + timedelta(days=1), "EA", 2),
                     r(datetime(2026, 11, 3, tzinfo=JST), "EA", 5), r(datetime(2026, 12, 1, tzinfo=JST), "EA", 9)])
    months, _, _ = run(tmp_path, date(2026, 10, 1), date(2026, 11, 30), by="month")
    assert [(m.label, m.bought.kwh, m.bought.missing) for m in months] == [
        ("2026-10", Decimal(1), 30 * 48), ("2026-11", Decimal(7), 0)]
    days, _, _ = run(tmp_path, date(2026, 11, 1), date(2026, 11, 3))
    assert [(d.label, d.bought.kwh, d.bought.missing, d.bought.source) for d in days] == [
        ("2026-11-01", None, 48, "EA"), ("2026-11-02", None, 48, "EA"), ("2026-11-03", None, 48, "EA")]
    assert days[1].bought.covered is None  # one boundary (the end) is not a number


def test_dst_day_has_50_halfhours(tmp_path):
    ny = ZoneInfo("America/New_York")
    (day,), _, _ = run(tmp_path, date(2026, 11, 1), date(2026, 11, 1), tz=ny)
    assert day.bought.missing == 50 and day.end.astimezone(UTC) - day.start.astimezone(UTC) == timedelta(hours=25)


def test_malformed_rows_are_reported_with_file_and_line_and_counted(tmp_path):
    start = datetime(2026, 11, 20, tzinfo=JST)
    write(tmp_path, [r(start, "EA", 1), r(start + timedelta(hours=12), "EA", 3), r(start + timedelta(days=1), "EA", 4)])
    path = tmp_path / "20261120-smartmeter.csv"
    with open(path, "a") as f:
        f.write("garbage\n")
        f.write("2026-11-20T10:00:00.000+09:00,smartmeter,EA,,1x\n")
        f.write("2026-11-20T10:00:00,smartmeter,EA,,2\n")
        f.write("2026-11-20T10:10:00.000+09:00,smartmeter,EA,,2\n")
        f.write("2026-11-20T10:30:00.000+09:00,smartmeter,E7,,not checked\n")
        f.write("2026-11-20T10:30:00.000+09:00,other,EA,,99999\n")
    (day,), issues, stats = run(tmp_path, date(2026, 11, 20), date(2026, 11, 20))
    assert day.bought.kwh == 3
    assert [(Path(i.path).name, i.line) for i in issues] == [(path.name, n) for n in (4, 5, 6, 7)]
    assert "expected 5 columns, got 1" in issues[0].reason
    assert "bad value '1x'" in issues[1].reason
    assert "no UTC offset" in issues[2].reason
    assert "not on a half-hour boundary" in issues[3].reason
    assert str(issues[0]) == f"{path}:4: expected 5 columns, got 1; row skipped"
    assert stats.bad_rows == 4 and stats.other_units == {"other"}


def test_streaming_yields_a_day_before_later_files_are_read(tmp_path):
    start = datetime(2026, 11, 20, tzinfo=JST)
    write(tmp_path, [r(t, "EA", i) for i, t in enumerate(halfhours(start, start + timedelta(days=1)))])
    files = find_files(tmp_path, PATTERN)
    ghost = tmp_path / "20261123-smartmeter.csv"  # does not exist yet when day 1 is done
    files.append((date(2026, 11, 23), ghost))
    gen = summarize(files, JST, "day", date(2026, 11, 20), date(2026, 11, 22), "smartmeter", LATER, print)
    first = next(gen)
    assert (first.label, first.bought.kwh) == ("2026-11-20", 48)
    write(tmp_path, [r(datetime(2026, 11, 23, tzinfo=JST), "EA", 100)])
    rest = list(gen)
    assert [s.label for s in rest] == ["2026-11-21", "2026-11-22"]
    assert rest[1].bought.kwh is None and rest[0].bought.kwh is None


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(SummaryError, match="does not exist"):
        find_files(tmp_path / "nope", PATTERN)
