from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from logger.schedule import DEFAULT_ENTRIES, Schedule, ScheduleEntry

TOKYO = ZoneInfo("Asia/Tokyo")


def ts(text: str, tz=TOKYO) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def local(t: float, tz=TOKYO) -> str:
    return datetime.fromtimestamp(t, tz).strftime("%H:%M:%S")


def test_thirty_seconds_fires_at_00_and_30():
    s = Schedule([ScheduleEntry((0xE7,), 30)], TOKYO)
    t0 = ts("2026-11-22T10:00:07")
    assert s.due(t0) == [0xE7]  # first call: the current slot counts as missed
    assert s.due(t0 + 1) == []
    nxt = s.next_time(t0 + 1)
    assert local(nxt) == "10:00:30"
    assert s.due(nxt - 0.001) == []
    assert s.due(nxt) == [0xE7]
    assert local(s.next_time(nxt)) == "10:01:00"


def test_hourly_is_top_of_the_local_hour_in_tokyo():
    s = Schedule([ScheduleEntry((0xE0,), 3600)], TOKYO)
    t0 = ts("2026-11-22T10:17:00")
    s.due(t0)
    nxt = s.next_time(t0)
    assert datetime.fromtimestamp(nxt, TOKYO) == datetime(2026, 11, 22, 11, 0, tzinfo=TOKYO)
    # Tokyo is UTC+9: the top of the local hour is also a UTC hour, but a daily cycle is local midnight.
    d = Schedule([ScheduleEntry((0xE2,), 86400)], TOKYO)
    d.due(t0)
    assert datetime.fromtimestamp(d.next_time(t0), TOKYO) == datetime(2026, 11, 23, 0, 0, tzinfo=TOKYO)


def test_half_hour_offset_zone_aligns_to_local_hour():
    india = ZoneInfo("Asia/Kolkata")  # UTC+5:30
    s = Schedule([ScheduleEntry((0xE0,), 3600)], india)
    t0 = ts("2026-11-22T10:17:00", india)
    s.due(t0)
    assert local(s.next_time(t0), india) == "11:00:00"


def test_no_drift_over_a_simulated_day_with_late_wakeups():
    s = Schedule([ScheduleEntry((0xE7,), 10), ScheduleEntry((0xE8,), 60)], TOKYO)
    start = ts("2026-11-22T00:00:00")
    now = start
    e7_times = []
    e8_times = []
    lateness = [0.0, 0.3, 1.7, 0.05, 2.9]  # a runner that wakes a bit late, never in step
    i = 0
    while now < start + 86400:
        for epc in s.due(now):
            (e7_times if epc == 0xE7 else e8_times).append(now)
        now = s.next_time(now) + lateness[i % len(lateness)]
        i += 1
    assert len(e7_times) == 8640 and len(e8_times) == 1440
    # every firing sits in its own 10 s slot: late by less than the cycle, never drifting
    for k, t in enumerate(e7_times):
        assert start + 10 * k <= t < start + 10 * (k + 1)
    for k, t in enumerate(e8_times):
        assert start + 60 * k <= t < start + 60 * (k + 1)


def test_missed_slots_fire_once_not_a_burst():
    s = Schedule([ScheduleEntry((0xE7,), 10)], TOKYO)
    t0 = ts("2026-11-22T10:00:00")
    assert s.due(t0) == [0xE7]
    late = t0 + 95  # slept through 9 slots
    assert s.next_time(late) == late
    assert s.due(late) == [0xE7]
    assert s.due(late) == []
    assert local(s.next_time(late)) == "10:01:40"


def test_due_lists_each_epc_once_context_first():
    s = Schedule([ScheduleEntry((0xE7, 0xE0), 60), ScheduleEntry((0xE7, 0xE1, 0xD3), 60)], TOKYO)
    assert s.due(ts("2026-11-22T10:00:00")) == [0xD3, 0xE1, 0xE7, 0xE0]


def test_default_schedule():
    s = Schedule(DEFAULT_ENTRIES, TOKYO)
    assert s.start_epcs() == [0xD3, 0xD7, 0xE1]
    t0 = ts("2026-11-22T10:00:03")
    # first due: periodic entries read now; context hourly entry is covered by start_epcs
    assert s.due(t0) == [0xE7, 0xE8, 0xE0, 0xE3]
    fired = {}
    now = t0
    while now < ts("2026-11-22T11:00:00"):
        now = s.next_time(now)
        for epc in s.due(now):
            fired.setdefault(epc, []).append(local(now))
    assert fired[0xD3] == fired[0xD7] == fired[0xE1] == ["11:00:00"]
    assert fired[0xE0] == ["10:05:00", "10:10:00", "10:15:00", "10:20:00", "10:25:00", "10:30:00", "10:35:00",
                           "10:40:00", "10:45:00", "10:50:00", "10:55:00", "11:00:00"]
    assert len(fired[0xE7]) == 360 and len(fired[0xE8]) == 60
    assert 0xEA not in fired  # pushed by the meter


def test_start_only_entries_and_context_added_for_energy():
    s = Schedule([ScheduleEntry((0xE7,), 10), ScheduleEntry((0xE0,), None, at_start=True)], TOKYO)
    assert s.start_epcs() == [0xD3, 0xD7, 0xE1, 0xE0]
    t0 = ts("2026-11-22T10:00:00")
    assert s.due(t0) == [0xE7]
    assert all(s.due(t0 + k) in ([], [0xE7]) and 0xE0 not in s.due(t0 + k) for k in range(1, 100))
    only_power = Schedule([ScheduleEntry((0xE7,), 10)], TOKYO)
    assert only_power.start_epcs() == []


def test_dst_zone_next_time_is_local_boundary():
    berlin = ZoneInfo("Europe/Berlin")
    s = Schedule([ScheduleEntry((0xE0,), 3600)], berlin)
    # 2026-03-29 02:00 CET -> 03:00 CEST
    t0 = ts("2026-03-29T01:30:00", berlin)
    s.due(t0)
    nxt = s.next_time(t0)
    assert datetime.fromtimestamp(nxt, berlin).minute == 0
    assert nxt - t0 == 1800


def test_entry_validation():
    with pytest.raises(ValueError):
        ScheduleEntry((), 10)
    with pytest.raises(ValueError):
        ScheduleEntry((0xE7,), None)
    with pytest.raises(ValueError):
        ScheduleEntry((0xE7,), 0)


def test_dst_fall_back_next_time_is_in_the_next_local_hour():
    berlin = ZoneInfo("Europe/Berlin")
    s = Schedule([ScheduleEntry((0xE0,), 3600)], berlin)
    # 2026-10-25 03:00 CEST -> 02:00 CET; 02:30 CEST is 00:30 UTC
    t0 = datetime(2026, 10, 25, 0, 30, tzinfo=ZoneInfo("UTC")).timestamp()
    assert s.due(t0) == [0xE0]
    nxt = s.next_time(t0)
    assert nxt > t0 and s.due(nxt) == [0xE0]
