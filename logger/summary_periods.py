"""Summary periods (day, half-hour, month) in the meter's local time (part of :mod:`logger.summary`).

Half-hours are counted in UTC, so a DST day has 46 or 50 of them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

SLOT = timedelta(minutes=30)
BY = ("day", "halfhour", "month")


def local_midnight(d: date, tz: tzinfo) -> datetime:
    return datetime.combine(d, time(0), tz)


def period_start(t: datetime, by: str, tz: tzinfo) -> datetime:
    """Start of the ``by`` period holding the aware datetime ``t`` (local time of ``tz``)."""
    local = t.astimezone(tz)
    if by == "day":
        return local_midnight(local.date(), tz)
    if by == "month":
        return local_midnight(local.date().replace(day=1), tz)
    if by == "halfhour":
        return local.replace(minute=local.minute // 30 * 30, second=0, microsecond=0)
    raise ValueError(f"by must be one of {BY}, not {by!r}")


def period_end(start: datetime, by: str, tz: tzinfo) -> datetime:
    if by == "halfhour":
        return (start.astimezone(UTC) + SLOT).astimezone(tz)
    if by == "day":
        return local_midnight(start.date() + timedelta(days=1), tz)
    d = start.date()
    return local_midnight(date(d.year + d.month // 12, d.month % 12 + 1, 1), tz)


def label(start: datetime, by: str) -> str:
    if by == "month":
        return start.strftime("%Y-%m")
    if by == "day":
        return start.date().isoformat()
    return start.isoformat(timespec="minutes")


def slots(start: datetime, end: datetime) -> int:
    """Half-hours between two boundaries (exact in UTC: DST days have 46 or 50)."""
    return int((end - start) / SLOT)


def missing_slots(start: datetime, end: datetime, covered: tuple[datetime, datetime] | None, now: datetime) -> int:
    """Half-hour slots of [start, end) that ended by ``now`` and are not inside ``covered``."""
    n = 0
    t = start.astimezone(UTC)
    end_u = end.astimezone(UTC)
    while t < end_u:
        slot_end = t + SLOT
        if slot_end <= now and (covered is None or not (covered[0] <= t and slot_end <= covered[1])):
            n += 1
        t = slot_end
    return n
