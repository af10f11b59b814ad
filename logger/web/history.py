"""The page's history, read from the daily CSV files the logger writes: nothing else is kept.

* Today's (or yesterday's) power curve: the ``E7`` rows of that day's file. A file is parsed
  once and then only the bytes appended since (the CSV sink only appends; a file that shrank
  or was replaced is read afresh), so a page reload costs the new rows, not the whole day.
* Half-hour bars and the day's kWh and cost: :func:`logger.summary.summarize`, exactly what
  ``smartmeter-logger summary`` prints (EA/EB boundaries, E0/E3 as the fallback, wrap-around,
  missing half-hours counted, nothing estimated). A backfilled half-hour is an EA/EB row like a
  pushed one, so it is drawn the same. Recomputed only when a file changed or a half-hour ended.
* The newest value of each property in today's file, for the status before any live reading.

Thread-safe: the web server's request threads share one :class:`History`.
"""

from __future__ import annotations

import csv
import os
import threading
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path

from logger.summary_files import parse_row
from logger.summary_periods import SLOT, local_midnight
from logger.timeconv import from_posix
from logger.typehints import TYPE_CHECKING

if TYPE_CHECKING:
    from logger.summary import PeriodSummary

#: properties whose newest row the status shows (power, currents, cumulative energy)
LATEST_EPCS = frozenset({"E7", "E8", "E0", "E3"})
#: days before yesterday whose files the energy may read for the scaling context (D3/D7/E1)
CONTEXT_DAYS = 8
#: a file is read in blocks of this many bytes (a day's file is ~600 kB: its text never all at once, and
#: a block's rows, parsed at once, are what the page's peak memory grows by)
BLOCK = 16 * 1024


@dataclass
class _DayFile:
    """What has been read of one daily file so far."""

    inode: int = -1
    offset: int = 0
    t: array = field(default_factory=lambda: array("d"))
    w: array = field(default_factory=lambda: array("d"))
    ordered: bool = True
    latest: dict[tuple[str, str], list[str]] = field(default_factory=dict)


class History:
    def __init__(self, directory: Path | None, pattern: str, tz: tzinfo, unitid: str,
                 price: Decimal | None) -> None:
        #: None when the CSV sink is off (the page then has live readings only)
        self.directory = directory
        self.pattern = pattern
        self.tz = tz
        self.unitid = unitid
        self.price = price
        self._lock = threading.Lock()
        self._days: dict[Path, _DayFile] = {}
        self._energy_key: tuple | None = None
        self._energy: list[dict] = []

    def today(self, now: float) -> date:
        return from_posix(now, self.tz).date()

    def path_for(self, day: date) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / local_midnight(day, self.tz).strftime(self.pattern)

    # ------------------------------------------------------------------ the power curve

    def power(self, day: date) -> tuple[array, array]:
        """(POSIX seconds, W) of every E7 row of ``day``'s file, in time order (copies: 8 bytes
        a value, no Python object per point)."""
        with self._lock:
            f = self._read(day)
            if f is None:
                return array("d"), array("d")
            if not f.ordered:
                pairs = sorted(zip(f.t, f.w))
                f.t, f.w = array("d", (p[0] for p in pairs)), array("d", (p[1] for p in pairs))
                f.ordered = True
            return array("d", f.t), array("d", f.w)

    def latest(self, day: date) -> dict[tuple[str, str], tuple[float, Decimal]]:
        """The newest row of each E7/E8/E0/E3 in ``day``'s file: (POSIX seconds, value)."""
        with self._lock:
            f = self._read(day)
            rows = dict(f.latest) if f is not None else {}
        out = {}
        for key, row in rows.items():
            try:
                t, value = parse_row(row)
            except ValueError:
                continue
            out[key] = (t.timestamp(), value)
        return out

    def _read(self, day: date) -> _DayFile | None:
        path = self.path_for(day)
        if path is None:
            return None
        f = self._days.pop(path, None) or _DayFile()
        self._days[path] = f  # most recently used last: two files are kept (today, yesterday)
        while len(self._days) > 2:
            del self._days[next(iter(self._days))]
        try:
            st = os.stat(path)
        except OSError:
            self._days[path] = _DayFile()
            return self._days[path]
        if st.st_ino != f.inode or st.st_size < f.offset:
            f = self._days[path] = _DayFile(inode=st.st_ino)
        if st.st_size == f.offset:
            return f
        try:
            with open(path, "rb") as fh:
                fh.seek(f.offset)
                left, carry = st.st_size - f.offset, b""
                while left > 0:
                    block = fh.read(min(BLOCK, left))
                    if not block:
                        break
                    left -= len(block)
                    data = carry + block
                    end = data.rfind(b"\n") + 1  # a row still being written is read next time
                    if end:
                        self._parse(f, data[:end].decode("utf-8", "replace").splitlines())
                        f.offset += end
                    carry = data[end:]
        except OSError:
            pass
        return f

    def _parse(self, f: _DayFile, lines: list[str]) -> None:
        unitid = self.unitid
        for row in csv.reader(lines):
            if len(row) != 5 or row[1] != unitid or row[2] not in LATEST_EPCS:
                continue
            if row[2] == "E7" and not row[3]:
                try:
                    t, value = parse_row(row)
                except ValueError:
                    continue
                ts = t.timestamp()
                if f.t and ts < f.t[-1]:
                    f.ordered = False
                f.t.append(ts)
                f.w.append(float(value))
            f.latest[(row[2], row[3])] = row  # live rows are written in time order

    # ------------------------------------------------------------------ half-hours and days

    def energy(self, now: datetime) -> list[dict]:
        """Yesterday and today: kWh bought and sold per half-hour and for the day, and the
        day's cost (bought kWh x the unit price), as ``summary`` computes them."""
        from logger.summary import summarize  # on the first page load, not at start

        today = now.astimezone(self.tz).date()
        yesterday = today - timedelta(days=1)
        # the files by the name the sink gives each day (summary's find_files parses every name in the
        # directory with strptime, ~0.25 MB of imports for this page): yesterday's, today's, the
        # next day's (its first boundary ends today), and a week before for the scaling context
        # (D3/D7/E1, read hourly) a counter wrap needs
        files = [(d, p) for d in (today + timedelta(days=k) for k in range(-CONTEXT_DAYS, 2))
                 if (p := self.path_for(d)) is not None and p.is_file()]
        used = [(d, p) for d, p in files if yesterday <= d <= today + timedelta(days=1)]
        key = (today, int(now.timestamp() // SLOT.total_seconds()), tuple(_stamp(p) for _d, p in used))
        with self._lock:
            if key == self._energy_key:
                return self._energy
        if used:
            halves = list(summarize(files, self.tz, "halfhour", yesterday, today, self.unitid, now, _ignore))
            days = list(summarize(files, self.tz, "day", yesterday, today, self.unitid, now, _ignore))
        else:
            halves, days = [], []
        out = [self._day(d, halves, days, now) for d in (yesterday, today)]
        with self._lock:
            self._energy_key, self._energy = key, out
        return out

    def _day(self, day: date, halves: list[PeriodSummary], days: list[PeriodSummary], now: datetime) -> dict:
        start = local_midnight(day, self.tz)
        total = next((s for s in days if s.start == start), None)
        slots = [s for s in halves if s.start.date() == day]
        cost = total.cost(self.price) if total is not None else None
        return {
            "day": day.isoformat(),
            "start": start.timestamp(),
            "end": local_midnight(day + timedelta(days=1), self.tz).timestamp(),
            "bought_kwh": as_float(total.bought.kwh) if total else None,
            "sold_kwh": as_float(total.sold.kwh) if total else None,
            "cost_jpy": as_float(cost),
            "missing_halfhours": total.bought.missing if total else None,
            "slots": {
                "t": [s.start.timestamp() for s in slots],
                "bought": [as_float(s.bought.kwh) for s in slots],
                "sold": [as_float(s.sold.kwh) for s in slots],
            },
        }


def as_float(value: Decimal | None) -> float | None:
    """A Decimal as a JSON number; None stays None."""
    return None if value is None else float(value)


def _stamp(path: Path) -> tuple[str, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), -1, -1)
    return (str(path), st.st_size, st.st_mtime_ns)


def _ignore(_issue) -> None:
    """Skipped rows are ``summary``'s to report; the page shows what could be computed."""
