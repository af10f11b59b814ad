"""32-bit-safe time (logger/timeconv.py): POSIX seconds <-> aware datetimes past 2038, zone and
DST edges, no C-library time call anywhere else in logger/, and a simulated logger run across
2038-01-19 03:14:08 UTC with a restart that backfills from a post-2038 frontier.

On amd64 these pass with or without timeconv; scripts/test-arm.sh runs this file inside the armv7
image, where Python's ``time_t`` is 32 bits and ``datetime.fromtimestamp(2**31, tz)`` raises
``OverflowError`` (the check below says which kind of platform it ran on).
"""

from __future__ import annotations

import ast
import csv
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logger import timeconv
from logger.timeconv import from_posix, is_sane, set_mtime, to_posix, utc_offset

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
T2038 = 2**31  # 2038-01-19T03:14:08Z, the first second a signed 32-bit time_t cannot hold
PACKAGE = Path(__file__).resolve().parents[1] / "logger"


def _platform_time_t_is_32_bit() -> bool:
    try:
        time.gmtime(T2038)
    except (OverflowError, OSError, ValueError):
        return True
    return False


TIME_T_32 = _platform_time_t_is_32_bit()


def test_report_platform():
    """Not a check: says in the -v output which time_t this run had (armv7: 32-bit)."""
    print(f"time_t is {'32' if TIME_T_32 else '64'}-bit here")


# --------------------------------------------------------------------------- conversions


@pytest.mark.parametrize("t, tz, expected", [
    (T2038 - 1, UTC, datetime(2038, 1, 19, 3, 14, 7, tzinfo=UTC)),
    (T2038, UTC, datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)),
    (T2038, TOKYO, datetime(2038, 1, 19, 12, 14, 8, tzinfo=TOKYO)),
    (2**32, TOKYO, datetime(2106, 2, 7, 15, 28, 16, tzinfo=TOKYO)),
    (4_102_444_800.5, UTC, datetime(2100, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
    (253_402_300_799, UTC, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    (-1.25, TOKYO, datetime(1970, 1, 1, 8, 59, 58, 750000, tzinfo=TOKYO)),
])
def test_from_posix_past_2038_and_far(t, tz, expected):
    got = from_posix(t, tz)
    assert got == expected and got.utcoffset() == expected.utcoffset()
    assert to_posix(got) == t


def test_from_posix_is_what_fromtimestamp_gives_where_the_platform_can():
    for t in (0, 1.5, 1_796_081_400.0, T2038 - 1, -(2**31)):
        assert from_posix(t, TOKYO) == datetime.fromtimestamp(t, TOKYO)  # noqa: DTZ006 - the reference
    if not TIME_T_32:
        assert from_posix(T2038, TOKYO) == datetime.fromtimestamp(T2038, TOKYO)
    else:  # the reason timeconv exists
        with pytest.raises(OverflowError):
            datetime.fromtimestamp(T2038, TOKYO)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-(2**31), max_value=2**31 - 1, allow_nan=False),
       st.sampled_from([UTC, TOKYO, NEW_YORK, LONDON]))
def test_from_posix_matches_fromtimestamp_rounding(t, tz):
    # same microsecond rounding (half to even) as the C library path, wherever both work
    assert from_posix(t, tz) == datetime.fromtimestamp(t, tz)  # noqa: DTZ006
    assert from_posix(t, tz).utcoffset() == datetime.fromtimestamp(t, tz).utcoffset()  # noqa: DTZ006


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=4_102_444_800 * 1000), st.sampled_from([UTC, TOKYO, NEW_YORK, LONDON]))
def test_round_trip_millisecond_times_to_2100(ms, tz):
    t = ms / 1000
    assert abs(to_posix(from_posix(t, tz)) - t) < 1e-6


def test_tokyo_is_nine_hours_ahead_after_2038_and_had_summer_time_1948_to_1951():
    assert utc_offset(T2038, TOKYO) == 9 * 3600
    assert utc_offset(datetime(2099, 12, 31, 23, 59, tzinfo=TOKYO).timestamp(), TOKYO) == 9 * 3600
    # Japan's post-war summer time (JDT, +10:00), in the zone data
    assert utc_offset(datetime(1950, 7, 1, tzinfo=UTC).timestamp(), TOKYO) == 10 * 3600
    assert utc_offset(datetime(1952, 7, 1, tzinfo=UTC).timestamp(), TOKYO) == 9 * 3600


def test_dst_edges_after_2038_follow_the_zone_rules():
    # 2040-03-11 (second Sunday of March) 02:00 EST -> 03:00 EDT in New York
    before = datetime(2040, 3, 11, 6, 59, 59, tzinfo=UTC).timestamp()
    assert from_posix(before, NEW_YORK).isoformat() == "2040-03-11T01:59:59-05:00"
    assert from_posix(before + 1, NEW_YORK).isoformat() == "2040-03-11T03:00:00-04:00"
    # 2040-11-04 01:30 happens twice: fold=0 (EDT) then fold=1 (EST)
    first = datetime(2040, 11, 4, 5, 30, tzinfo=UTC).timestamp()
    a, b = from_posix(first, NEW_YORK), from_posix(first + 3600, NEW_YORK)
    assert (a.hour, a.minute, a.fold, a.utcoffset()) == (1, 30, 0, timedelta(hours=-4))
    assert (b.hour, b.minute, b.fold, b.utcoffset()) == (1, 30, 1, timedelta(hours=-5))
    assert to_posix(a) == first and to_posix(b) == first + 3600
    # London 2045-03-26 01:00 GMT -> 02:00 BST
    t = datetime(2045, 3, 26, 1, 0, tzinfo=UTC).timestamp()
    assert utc_offset(t - 1, LONDON) == 0 and utc_offset(t, LONDON) == 3600


def test_half_hour_slots_after_2038_step_through_dst_in_utc():
    from logger.backfill import missing_slots, slot_floor

    assert slot_floor(T2038, TOKYO) == datetime(2038, 1, 19, 12, 0, tzinfo=TOKYO)
    last = datetime(2040, 3, 11, 0, 30, tzinfo=NEW_YORK).timestamp()
    now = datetime(2040, 3, 11, 4, 5, tzinfo=NEW_YORK).timestamp()
    slots = missing_slots(last, now, NEW_YORK)
    # 01:00 01:30 then 03:00 (02:xx does not exist that night) ... 04:00: half an hour apart each
    assert [s.strftime("%H:%M%z") for s in slots] == ["01:00-0500", "01:30-0500", "03:00-0400", "03:30-0400",
                                                      "04:00-0400"]
    assert all(b.timestamp() - a.timestamp() == 1800 for a, b in zip(slots, slots[1:]))


def test_to_posix_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="naive"):
        to_posix(datetime(2040, 1, 1))  # noqa: DTZ001 - the point of the test


def test_sanity_bounds_and_description():
    assert is_sane(946_684_800) and is_sane(T2038) and is_sane(4_102_444_799.9)
    for bad in (946_684_799.9, 4_102_444_800, -1, float("nan"), float("inf"), True, "1796081400", None):
        assert not is_sane(bad), bad
    assert timeconv.describe(T2038) == "2147483648 (2038-01-19T03:14:08Z)"
    assert timeconv.describe(float("nan")) == "nan" and timeconv.describe("x") == "'x'"


def test_set_mtime_after_2038(tmp_path):
    f = tmp_path / "heartbeat"
    f.write_text("x")
    ok = set_mtime(f, T2038 + 10)
    if TIME_T_32:  # the platform cannot hold it: refused without an exception, file untouched
        assert not ok and f.read_text() == "x"
    else:
        assert ok and f.stat().st_mtime == T2038 + 10
    assert not set_mtime(tmp_path / "missing", 1_796_081_400.0)


# --------------------------------------------------------------------------- the rule, static

#: Calls that go through the platform's time_t (or a naive local zone) and overflow after 2038 on a
#: 32-bit time_t: only logger/timeconv.py may use them (os.utime through timeconv.set_mtime).
FORBIDDEN = {"fromtimestamp", "utcfromtimestamp", "gmtime", "localtime", "mktime", "timegm", "utime", "ctime"}


def _forbidden_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN:
            found.append(f"{node.attr} (line {node.lineno})")
        elif isinstance(node, ast.ImportFrom) and node.module in ("time", "calendar", "os"):
            found.extend(f"from {node.module} import {a.name} (line {node.lineno})" for a in node.names
                         if a.name in FORBIDDEN)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN:
            found.append(f"{node.func.id}() (line {node.lineno})")
    return found


@pytest.mark.parametrize("module", sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")))
def test_no_time_t_call_outside_timeconv(module):
    if module == "timeconv.py":
        return
    uses = _forbidden_uses(PACKAGE / module)
    assert not uses, (f"logger/{module} uses {', '.join(uses)}: it overflows after 2038 on a 32-bit time_t "
                      "(Raspberry Pi OS 32-bit); use logger.timeconv (from_posix, utc_offset, set_mtime)")


def test_the_static_rule_sees_what_it_forbids(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import time, os\nfrom datetime import datetime\nfrom time import localtime\n"
                      "datetime.fromtimestamp(1)\ntime.gmtime(1)\nos.utime('x', (1, 1))\n")
    assert len(_forbidden_uses(sample)) == 4


# --------------------------------------------------------------------------- a run across 2038


def _rows(data_dir: Path) -> list[list[str]]:
    out = []
    for f in sorted(data_dir.glob("*.csv")):
        with f.open(newline="") as fh:
            out.extend(list(csv.reader(fh))[1:])
    return out


def test_logger_runs_across_2038_and_backfills_from_a_post_2038_frontier(tmp_path):
    """The whole logger (virtual clock, simulated dongle and meter, CSV sink, scan.json, heartbeat)
    from 2038-01-19 11:50 Tokyo past the 32-bit limit, then a restart 2 h later that backfills the
    missed half hours from the saved post-2038 frontier (the OverflowError the issue reported)."""
    from logger.simulate.embedded import build_simulation, virtual_app

    start = datetime(2038, 1, 19, 11, 50, 5, tzinfo=TOKYO).timestamp()
    first = virtual_app(tmp_path, start)
    first.run(until=start + 50 * 60)
    state = json.loads((tmp_path / "state" / "scan.json").read_text())
    assert state["last_slot"] > T2038  # 12:30 Tokyo, after the limit
    assert first.runner.recorded > 0 and first.runner.failure is None
    clock = first.simulation.clock
    clock.advance(2 * 3600)
    second = virtual_app(tmp_path, clock.time(), simulation=build_simulation(clock, "bp35a1"))
    second.run(until=clock.time() + 20 * 60)
    assert second.runner.failure is None
    rows = _rows(tmp_path / "data")
    assert {r[0][:10] for r in rows} == {"2038-01-19"}
    slots = {r[0][11:16] for r in rows if r[2] == "EA"}
    # every half hour from 12:00 (the first run) through the 2 h gap up to 14:30
    assert {"12:00", "12:30", "13:00", "13:30", "14:00", "14:30"} <= slots, sorted(slots)
    beat = (tmp_path / "state" / "heartbeat").read_text().split()
    assert float(beat[0]) > T2038
