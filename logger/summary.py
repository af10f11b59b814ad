"""kWh bought/sold per day, half-hour or month from the daily CSV files alone (no InfluxDB).

Sources, per period and direction (bought = normal direction, sold = reverse):

* ``EA`` / ``EB`` — the meter's cumulative kWh at each half-hour boundary (00:00, 00:30, ...; the
  row's timestamp is the boundary). The energy of a period is the counter at the last boundary
  present in ``[start, end]`` minus the counter at the first one: exact for that span even when
  boundaries in between are missing (the counter is cumulative).
* ``E0`` / ``E3`` — fallback when fewer than two boundaries are present: the last minus the first
  reading inside the period (the span between them is what the number covers).

Nothing is invented: half-hours of the past that the number does not cover are counted as
``missing`` (half-hours still in the future are not). Arithmetic is exact (:class:`Decimal`).

Counter wrap: the meter counts raw units with D7 digits and wraps at ``10**D7`` counts, i.e. at
``10**D7 x D3 x E1`` kWh. A counter that went down is unwrapped with
:func:`logger.echonet.meter.counter_delta` on the raw counts when D7 and E1 are known (D3 absent
means coefficient 1); otherwise the period has no number (and an issue is reported).

The pieces: :mod:`logger.summary_periods` (period boundaries), :mod:`logger.summary_counters`
(counter deltas and wrap), :mod:`logger.summary_files` (files, rows, context); all importable
from here.

Streaming: files are read one by one in date order; only the periods not yet finished are kept in
memory (a period is finished once the file holding its end boundary has been read).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path

from logger.readings import CSV_HEADER
from logger.summary_counters import Context, energy_delta
from logger.summary_files import (
    CONTEXT_EPCS,
    Issue,
    SummaryError,
    find_files,
    parse_row,
    read_context,
)
from logger.summary_periods import (
    BY,
    SLOT,
    label,
    local_midnight,
    missing_slots,
    period_end,
    period_start,
    slots,
)

__all__ = [
    "BY", "DIRECTIONS", "SLOT", "Context", "Energy", "Issue", "PeriodSummary", "Stats", "SummaryError",
    "energy_delta", "find_files", "label", "local_midnight", "period_end", "period_start", "read_context", "slots",
    "summarize",
]

#: (boundary EPC, fallback EPC) per direction
DIRECTIONS = {"bought": ("EA", "E0"), "sold": ("EB", "E3")}
_ENERGY_EPCS = frozenset({"EA", "EB", "E0", "E3"})


@dataclass(frozen=True)
class Energy:
    """kWh of one direction in one period. ``kwh`` is None when there is no number.

    ``covered`` is the span the number is measured over; ``missing`` the half-hours of the
    period (up to ``now``) not inside it."""

    kwh: Decimal | None
    source: str  # "EA", "EB", "E0", "E3" or "" (no data)
    covered: tuple[datetime, datetime] | None
    missing: int


@dataclass(frozen=True)
class PeriodSummary:
    """One half-hour or day of the summary: energy bought and sold, and its cost at a unit price."""

    start: datetime
    end: datetime
    label: str
    bought: Energy
    sold: Energy

    def cost(self, price: Decimal | None) -> Decimal | None:
        if price is None or self.bought.kwh is None:
            return None
        return self.bought.kwh * price


@dataclass
class _Span:
    """First and last (time, value, path, line) seen, by time."""

    first: tuple[datetime, Decimal, str, int] | None = None
    last: tuple[datetime, Decimal, str, int] | None = None
    count: int = 0

    def add(self, t: datetime, v: Decimal, path: str, line: int) -> None:
        self.count += 1
        if self.first is None or t < self.first[0]:
            self.first = (t, v, path, line)
        if self.last is None or t > self.last[0]:
            self.last = (t, v, path, line)


@dataclass
class _Period:
    """A period being summarized: the first and last reading of each energy EPC within it."""

    start: datetime
    end: datetime
    spans: dict[str, _Span] = field(default_factory=lambda: {e: _Span() for e in _ENERGY_EPCS})


# --------------------------------------------------------------------------- the computation


@dataclass
class Stats:
    """What the summary read: files, rows, and the rows it could not use (and why)."""

    files: int = 0
    rows: int = 0
    bad_rows: int = 0
    late_rows: int = 0
    other_units: set[str] = field(default_factory=set)


def summarize(
    files: list[tuple[date, Path]],
    tz: tzinfo,
    by: str,
    first: date,
    last: date,
    unitid: str,
    now: datetime,
    on_issue: Callable[[Issue], None],
    stats: Stats | None = None,
) -> Iterator[PeriodSummary]:
    """Summaries of every ``by`` period from the one holding ``first`` to the one holding ``last``
    (local dates), in order, yielded as soon as each is finished.

    ``files``: every daily file, (date, path) sorted by date (as :func:`find_files` returns).
    ``now``: aware; half-hours ending after it are not counted as missing, and periods starting
    after it are not listed at all.
    ``on_issue`` receives each skipped row and each number that could not be computed.
    """
    if by not in BY:
        raise ValueError(f"by must be one of {BY}, not {by!r}")
    if first > last:
        raise SummaryError(f"--from {first} is after --to {last}")
    stats = stats if stats is not None else Stats()
    now = now.astimezone(UTC)
    range_start = period_start(local_midnight(first, tz), by, tz)
    outer = "month" if by == "month" else "day"
    range_end = period_end(period_start(local_midnight(last, tz), outer, tz), outer, tz)
    # A period ending at range_end needs the file holding that boundary (the next day's).
    last_file_date = range_end.astimezone(tz).date()
    first_file_date = range_start.astimezone(tz).date()
    selected = [(d, p) for d, p in files if first_file_date <= d <= last_file_date]
    older = [(d, p) for d, p in reversed(files) if d < first_file_date]

    ctx = Context()
    ctx_looked_back = False
    open_periods: dict[datetime, _Period] = {}
    next_start = range_start  # the next period to emit
    finished_until = range_start  # periods ending at or before this were emitted
    range_start_u, range_end_u = range_start.astimezone(UTC), range_end.astimezone(UTC)

    def period_for(start_u: datetime) -> _Period | None:
        if not range_start_u <= start_u < range_end_u or start_u < finished_until:
            return None
        p = open_periods.get(start_u)
        if p is None:
            start = start_u.astimezone(tz)
            p = open_periods[start_u] = _Period(start, period_end(start, by, tz))
        return p

    def context() -> Context:
        nonlocal ctx_looked_back
        if not ctx.complete and not ctx_looked_back:
            ctx_looked_back = True
            earlier = read_context(older, unitid)
            for name in ("coefficient", "unit", "digits"):
                if getattr(ctx, name) is None:
                    setattr(ctx, name, getattr(earlier, name))
        return ctx

    def energy(p: _Period, direction: str) -> Energy:
        boundary_epc, fallback_epc = DIRECTIONS[direction]
        for epc in (boundary_epc, fallback_epc):
            span = p.spans[epc]
            if span.count >= 2 and span.first and span.last:
                (t0, v0, _p0, _l0), (t1, v1, path, line) = span.first, span.last
                covered = (t0, t1)
                kwh = energy_delta(v1, v0, context())
                if kwh is None:
                    on_issue(Issue(path, line, f"{epc} went down from {v0} to {v1} and the wrap cannot be "
                                               "worked out (needs D7 and E1 rows); no number for "
                                               f"{label(p.start, by)} {direction}"))
                    return Energy(None, epc, None, missing_slots(p.start, p.end, None, now))
                return Energy(kwh, epc, covered, missing_slots(p.start, p.end, covered, now))
        any_data = any(p.spans[e].count for e in (boundary_epc, fallback_epc))
        return Energy(None, boundary_epc if any_data else "", None, missing_slots(p.start, p.end, None, now))

    def emit_until(limit: datetime) -> Iterator[PeriodSummary]:
        """Yield every period (with data or not) ending at or before ``limit``."""
        nonlocal next_start, finished_until
        while next_start < range_end and period_end(next_start, by, tz) <= limit:
            start_u = next_start.astimezone(UTC)
            p = open_periods.pop(start_u, None) or _Period(next_start, period_end(next_start, by, tz))
            if start_u >= now:  # a period that has not begun yet: nothing to say about it
                next_start = range_end
                return
            yield PeriodSummary(p.start, p.end, label(p.start, by), energy(p, "bought"), energy(p, "sold"))
            next_start = p.end
            finished_until = p.end.astimezone(UTC)

    for file_date, path in selected:
        stats.files += 1
        name = str(path)
        try:
            fh = open(path, newline="", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            on_issue(Issue(name, 0, f"cannot read: {exc.strerror}; file skipped"))
            continue
        with fh:
            for lineno, row in enumerate(csv.reader(fh), start=1):
                if not row or (lineno == 1 and tuple(row) == CSV_HEADER):
                    continue
                if len(row) != 5:
                    stats.bad_rows += 1
                    on_issue(Issue(name, lineno, f"expected 5 columns, got {len(row)}; row skipped"))
                    continue
                epc = row[2]
                if epc not in _ENERGY_EPCS and epc not in CONTEXT_EPCS:
                    continue
                if row[1] != unitid:
                    if len(stats.other_units) < 100:
                        stats.other_units.add(row[1])
                    continue
                if row[3]:
                    continue  # EA/E0 rows never carry a dataid; other sensors might reuse the EPC
                try:
                    t, value = parse_row(row)
                except ValueError as exc:
                    stats.bad_rows += 1
                    on_issue(Issue(name, lineno, f"{exc}; row skipped"))
                    continue
                stats.rows += 1
                if epc in CONTEXT_EPCS:
                    ctx.observe(epc, value)
                    continue
                if epc in ("EA", "EB"):
                    local = t.astimezone(tz)
                    if local.minute % 30 or local.second or local.microsecond:
                        stats.bad_rows += 1
                        on_issue(Issue(name, lineno, f"{epc} at {row[0]} is not on a half-hour boundary; row skipped"))
                        continue
                    owners = [period_start(t, by, tz).astimezone(UTC)]
                    if owners[0] == t:  # a boundary also ends the previous period
                        owners.append(period_start(t - SLOT, by, tz).astimezone(UTC))
                else:
                    owners = [period_start(t, by, tz).astimezone(UTC)]
                placed = False
                for start_u in owners:
                    p = period_for(start_u)
                    if p is not None:
                        p.spans[epc].add(t, value, name, lineno)
                        placed = True
                if not placed and range_start_u < t < finished_until:
                    stats.late_rows += 1
                    on_issue(Issue(name, lineno, f"{epc} row for {t.astimezone(tz).date()} comes after that period "
                                                 "was summarised (not in its own day's file); row ignored"))
        # Every boundary up to this file's midnight has been read (its 00:00 rows are in it).
        yield from emit_until(local_midnight(file_date, tz))
    yield from emit_until(range_end)
