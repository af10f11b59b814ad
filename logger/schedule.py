"""Which meter properties (EPCs) to read, and when. Sans-I/O: every call is given ``now``.

A schedule is a list of :class:`ScheduleEntry`: some EPCs and a cycle in seconds,
optionally also read once at session start (``at_start``); ``cycle=None`` means
*only* at session start.

Alignment. Cycles are aligned to wall-clock multiples in the meter's timezone,
counted from local midnight of 1970-01-01: a 30 s cycle fires at :00 and :30, 3600 s
at the top of every local hour, 86400 s at local midnight. Slots are computed from
``now`` every time, so the schedule never drifts however late the caller wakes up.
A caller that wakes up after one or more slots went by gets the EPCs once (the
latest slot), never a burst of catch-ups. On the first :meth:`Schedule.due` call the
current slot counts as missed, so periodic EPCs are read right away - except
entries that are also ``at_start``, which :meth:`Schedule.start_epcs` already covers.

Energy needs context. Energy values (E0/E3, EA/EB, E2/E4, EC, EE, D0) are raw
counts that only become kWh with D3 (coefficient), D7 (digits) and E1 (unit).
Whenever an energy EPC is scheduled, :meth:`Schedule.start_epcs` therefore always
includes D3, D7 and E1 (read before any energy after every session start), and
:meth:`Schedule.due` lists context EPCs before energy EPCs when both fall in the
same slot (the default re-reads context hourly, at :00, together with E0/E3).

Minimum cycles (shorter ones are a config error; the B-route has a shared per-hour
transmit budget and the meter updates these values no faster):
E7/E8 5 s; E0/E3, D0, EE and the context EPCs D3/D7/E1 60 s; the 30-minute values
EA/EB and the history E2/E4/EC 1800 s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timezone
from zoneinfo import ZoneInfo

from logger.timeconv import from_posix

#: EPCs a schedule may name -> minimum cycle in seconds.
MIN_CYCLE_S: dict[int, int] = {
    0xE7: 5,
    0xE8: 5,
    0xE0: 60,
    0xE3: 60,
    0xD0: 60,
    0xEE: 60,
    0xD3: 60,
    0xD7: 60,
    0xE1: 60,
    0xEA: 1800,
    0xEB: 1800,
    0xE2: 1800,
    0xE4: 1800,
    0xEC: 1800,
}
#: Coefficient, digits, unit: needed before any energy value can be scaled.
CONTEXT_EPCS: tuple[int, ...] = (0xD3, 0xD7, 0xE1)
ENERGY_EPCS: frozenset[int] = frozenset({0xE0, 0xE3, 0xEA, 0xEB, 0xE2, 0xE4, 0xEC, 0xEE, 0xD0})


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """One schedule line: these EPCs, read every ``cycle`` seconds (and/or at session start)."""

    epcs: tuple[int, ...]
    cycle: int | None  # seconds; None = only at session start
    at_start: bool = False

    def __post_init__(self) -> None:
        if not self.epcs:
            raise ValueError("a schedule entry needs at least one EPC")
        if self.cycle is None and not self.at_start:
            raise ValueError("a schedule entry needs a cycle or at_start")
        if self.cycle is not None and self.cycle <= 0:
            raise ValueError("a cycle must be a positive number of seconds")


#: Default: E7 every 10 s, E8 every 60 s, E0/E3 every 300 s, context at start and hourly.
#: EA/EB are not polled: the meter pushes them every 30 minutes.
DEFAULT_ENTRIES: tuple[ScheduleEntry, ...] = (
    ScheduleEntry((0xE7,), 10),
    ScheduleEntry((0xE8,), 60),
    ScheduleEntry((0xE0, 0xE3), 300),
    ScheduleEntry((0xD3, 0xD7, 0xE1), 3600, at_start=True),
)


def _ordered(epcs: Iterable[int]) -> list[int]:
    """Unique, first-seen order, with context EPCs moved in front (CONTEXT_EPCS order)."""
    seen: list[int] = []
    for epc in epcs:
        if epc not in seen:
            seen.append(epc)
    return [e for e in CONTEXT_EPCS if e in seen] + [e for e in seen if e not in CONTEXT_EPCS]


class Schedule:
    def __init__(self, entries: Sequence[ScheduleEntry], tz: ZoneInfo | timezone) -> None:
        if not entries:
            raise ValueError("a schedule needs at least one entry")
        self._entries = tuple(entries)
        self._tz = tz
        self._periodic = [e for e in self._entries if e.cycle is not None]
        # Last slot index served per periodic entry; None until the first due() call.
        self._served: list[int | None] = [None] * len(self._periodic)

    @property
    def entries(self) -> tuple[ScheduleEntry, ...]:
        return self._entries

    def start_epcs(self) -> list[int]:
        """EPCs to read once after every session start (context first when energy is scheduled)."""
        start = [epc for e in self._entries if e.at_start for epc in e.epcs]
        every = [epc for e in self._entries for epc in e.epcs]
        if any(epc in ENERGY_EPCS for epc in every):
            start = list(CONTEXT_EPCS) + start
        return _ordered(start)

    def _offset(self, now: float) -> float:
        dt = from_posix(now, self._tz)
        off = dt.utcoffset()
        return off.total_seconds() if off is not None else 0.0

    def _slot(self, now: float, cycle: int) -> int:
        return math.floor((now + self._offset(now)) / cycle)

    def _slot_start(self, index: int, cycle: int, near: float) -> float:
        local = index * cycle
        first = local - self._offset(near)
        # Re-evaluate the UTC offset at the candidate instant (a DST change between now and then);
        # take the earliest candidate after ``near`` that really lies in the slot (or a later one).
        second = local - self._offset(first)
        for t in sorted({first, second}):
            if t > near and self._slot(t, cycle) >= index:
                return t
        return max(first, second, near)

    def due(self, now: float) -> list[int]:
        """EPCs due at ``now`` (each once, stable order); marks them served."""
        out: list[int] = []
        for i, entry in enumerate(self._periodic):
            assert entry.cycle is not None
            slot = self._slot(now, entry.cycle)
            served = self._served[i]
            if served is None:
                self._served[i] = slot
                if not entry.at_start:
                    out.extend(entry.epcs)
            elif slot > served:
                self._served[i] = slot
                out.extend(entry.epcs)
        return _ordered(out)

    def next_time(self, now: float) -> float:
        """The earliest time at which :meth:`due` has something (``now`` if it has already)."""
        best = math.inf
        for i, entry in enumerate(self._periodic):
            assert entry.cycle is not None
            slot = self._slot(now, entry.cycle)
            served = self._served[i]
            if served is None:
                if not entry.at_start:
                    return now
                served = slot
            if slot > served:
                return now
            best = min(best, self._slot_start(served + 1, entry.cycle, now))
        return best
