"""Half-hour slots and gap backfill planning (pure functions, no I/O, no clock).

The meter keeps cumulative energy at every half-hour boundary (00:00, 00:30, ...) in its
history: E2/E4 (one whole day selected by E5, 0 = today ... 99) and, on meters whose
property map lists them, EC with ED (up to 12 slots back from a chosen time, both
directions at once). After any outage the logger asks for exactly the slots it has not
recorded and writes them with their true timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from logger.timeconv import from_posix

SLOT_SECONDS = 1800
#: E5 accepts 0..99.
MAX_HISTORY_DAYS = 99
#: ED/EC carry at most 12 slots per request.
EC_MAX_SLOTS = 12


def slot_floor(ts: float, tz: ZoneInfo) -> datetime:
    """The half-hour boundary at or before ``ts``, as an aware local datetime."""
    local = from_posix(ts, tz)
    return local.replace(minute=0 if local.minute < 30 else 30, second=0, microsecond=0)


def missing_slots(last_slot: float | None, now: float, tz: ZoneInfo, settle_s: float = 60.0) -> list[datetime]:
    """Slots after ``last_slot`` up to the newest one the meter has surely stored.

    A slot is only asked for ``settle_s`` after its boundary (the meter stores it at the
    boundary; asking at once races with that). With no ``last_slot`` (first run) the
    slots since local midnight today are returned. Bounded by the meter's 99 days.
    """
    newest = slot_floor(now - settle_s, tz)
    oldest_allowed = (newest - timedelta(days=MAX_HISTORY_DAYS)).replace(hour=0, minute=0)
    if last_slot is None:
        start = newest.replace(hour=0, minute=0)
    else:
        start = slot_floor(last_slot, tz) + timedelta(minutes=30)
    start = max(start, oldest_allowed)
    out = []
    cur = start
    while cur <= newest:
        out.append(cur)
        # step in UTC so DST changes (not in Japan, but zoneinfo allows them) stay correct
        cur = from_posix(cur.timestamp() + SLOT_SECONDS, tz)
    return out


@dataclass(frozen=True, slots=True)
class DayRequest:
    """Ask E5 = ``day`` (days before today) then E2 (and E4) for these slots."""

    day: int
    slots: tuple[datetime, ...]


@dataclass(frozen=True, slots=True)
class RangeRequest:
    """Ask ED = (``newest``, ``count``) then EC: ``count`` slots going back from ``newest``."""

    newest: datetime
    count: int


def plan(slots: list[datetime], today: date, use_ec: bool) -> list[DayRequest | RangeRequest]:
    """Group missing slots into as few meter requests as possible, oldest first.

    EC covers up to 12 consecutive slots per request and both directions; E2/E4 cover a
    whole day each. A gap of more than a day goes to E2/E4 even when EC is available.
    """
    if not slots:
        return []
    if use_ec and len(slots) <= 2 * EC_MAX_SLOTS:
        requests: list[DayRequest | RangeRequest] = []
        group: list[datetime] = []
        for s in slots:
            if group and (
                len(group) == EC_MAX_SLOTS or s.timestamp() - group[-1].timestamp() != SLOT_SECONDS
            ):
                requests.append(RangeRequest(group[-1], len(group)))
                group = []
            group.append(s)
        requests.append(RangeRequest(group[-1], len(group)))
        return requests
    by_day: dict[int, list[datetime]] = {}
    for s in slots:
        day = (today - s.date()).days
        if 0 <= day <= MAX_HISTORY_DAYS:
            by_day.setdefault(day, []).append(s)
    return [DayRequest(day, tuple(by_day[day])) for day in sorted(by_day, reverse=True)]
