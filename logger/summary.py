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

Streaming: files are read one by one in date order; only the periods not yet finished are kept in
memory (a period is finished once the file holding its end boundary has been read).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path

from logger.echonet.meter import counter_delta
from logger.readings import CSV_HEADER, parse_timestamp

SLOT = timedelta(minutes=30)
BY = ("day", "halfhour", "month")
#: (boundary EPC, fallback EPC) per direction
DIRECTIONS = {"bought": ("EA", "E0"), "sold": ("EB", "E3")}
_ENERGY_EPCS = frozenset({"EA", "EB", "E0", "E3"})
_CONTEXT_EPCS = frozenset({"D3", "D7", "E1"})


class SummaryError(Exception):
    """A problem that stops the summary (missing directory, no files, bad range)."""


@dataclass(frozen=True)
class Issue:
    """A row that was skipped, or a number that could not be computed: ``path:line: reason``."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}" if self.line else f"{self.path}: {self.reason}"


@dataclass
class Context:
    """Scaling facts from the D3 / D7 / E1 rows (the latest seen)."""

    coefficient: Decimal | None = None
    unit: Decimal | None = None
    digits: int | None = None

    def observe(self, epc: str, value: Decimal) -> None:
        if epc == "D3":
            self.coefficient = value
        elif epc == "E1":
            self.unit = value
        elif epc == "D7" and value == value.to_integral_value() and 1 <= value <= 8:
            self.digits = int(value)

    @property
    def complete(self) -> bool:
        return self.unit is not None and self.digits is not None and self.coefficient is not None

    @property
    def scale(self) -> Decimal | None:
        """kWh per raw count (D3 x E1); D3 absent counts as 1 (the meter does not have one)."""
        return None if self.unit is None else self.unit * (self.coefficient if self.coefficient is not None else 1)

    @property
    def wrap_kwh(self) -> Decimal | None:
        scale = self.scale
        return None if scale is None or self.digits is None else scale * 10**self.digits


def energy_delta(new: Decimal, old: Decimal, ctx: Context) -> Decimal | None:
    """``new - old`` for a cumulative kWh counter; unwraps one wrap-around when D7/E1 are known.

    ``None`` when the counter went down and the wrap cannot be worked out exactly.
    """
    if new >= old:
        return new - old
    scale, digits = ctx.scale, ctx.digits
    if scale is None or digits is None or scale <= 0:
        return None
    raw_new, raw_old = new / scale, old / scale
    if raw_new != raw_new.to_integral_value() or raw_old != raw_old.to_integral_value():
        return None
    try:
        return counter_delta(int(raw_new), int(raw_old), digits) * scale
    except ValueError:  # the values do not fit D7 digits: not a wrap (meter replaced, bad context)
        return None


# --------------------------------------------------------------------------- periods


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
    start: datetime
    end: datetime
    spans: dict[str, _Span] = field(default_factory=lambda: {e: _Span() for e in _ENERGY_EPCS})


def _missing(start: datetime, end: datetime, covered: tuple[datetime, datetime] | None, now: datetime) -> int:
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


# --------------------------------------------------------------------------- files


def find_files(directory: Path, pattern: str) -> list[tuple[date, Path]]:
    """Daily files in ``directory`` whose name matches the strftime ``pattern``, by date."""
    if not directory.is_dir():
        raise SummaryError(f"CSV directory {directory} does not exist (set csv.directory in settings.yml or CSV_DIR)")
    out = []
    depth = pattern.count("/")
    for path in directory.glob("/".join(["*"] * (depth + 1))):
        rel = path.relative_to(directory).as_posix()
        try:
            d = datetime.strptime(rel, pattern).date()
        except ValueError:
            continue
        if path.is_file():
            out.append((d, path))
    out.sort()
    return out


_TS = re.compile(r"\d{4}-\d\d-\d\dT")


def _parse(row: list[str]) -> tuple[datetime, Decimal]:
    ts, _unitid, _epc, _dataid, value = row
    if not _TS.match(ts):
        raise ValueError(f"bad timestamp {ts[:40]!r}")
    when = parse_timestamp(ts)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"bad value {value[:40]!r}") from None
    if not number.is_finite():
        raise ValueError(f"value {value[:40]!r} is not a finite number")
    return when.astimezone(UTC), number


def read_context(files: Iterable[tuple[date, Path]], unitid: str) -> Context:
    """The latest D3/D7/E1 values in ``files`` (given newest first); stops once all three are known."""
    ctx = Context()
    for _d, path in files:
        latest: dict[str, tuple[datetime, Decimal]] = {}
        try:
            with open(path, newline="", encoding="utf-8", errors="replace") as fh:
                for row in csv.reader(fh):
                    if len(row) == 5 and row[2] in _CONTEXT_EPCS and row[1] == unitid and not row[3]:
                        try:
                            t, v = _parse(row)
                        except ValueError:
                            continue
                        if row[2] not in latest or t >= latest[row[2]][0]:
                            latest[row[2]] = (t, v)
        except OSError:
            continue
        for epc, (_t, v) in latest.items():
            if (epc == "D3" and ctx.coefficient is None) or (epc == "E1" and ctx.unit is None) or (
                epc == "D7" and ctx.digits is None
            ):
                ctx.observe(epc, v)
        if ctx.complete:
            break
    return ctx


# --------------------------------------------------------------------------- the computation


@dataclass
class Stats:
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
    ``now``: aware; half-hours ending after it are not counted as missing.
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
                    return Energy(None, epc, None, _missing(p.start, p.end, None, now))
                return Energy(kwh, epc, covered, _missing(p.start, p.end, covered, now))
        any_data = any(p.spans[e].count for e in (boundary_epc, fallback_epc))
        return Energy(None, boundary_epc if any_data else "", None, _missing(p.start, p.end, None, now))

    def emit_until(limit: datetime) -> Iterator[PeriodSummary]:
        """Yield every period (with data or not) ending at or before ``limit``."""
        nonlocal next_start, finished_until
        while next_start < range_end and period_end(next_start, by, tz) <= limit:
            start_u = next_start.astimezone(UTC)
            p = open_periods.pop(start_u, None) or _Period(next_start, period_end(next_start, by, tz))
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
                if epc not in _ENERGY_EPCS and epc not in _CONTEXT_EPCS:
                    continue
                if row[1] != unitid:
                    if len(stats.other_units) < 100:
                        stats.other_units.add(row[1])
                    continue
                if row[3]:
                    continue  # EA/E0 rows never carry a dataid; other sensors might reuse the EPC
                try:
                    t, value = _parse(row)
                except ValueError as exc:
                    stats.bad_rows += 1
                    on_issue(Issue(name, lineno, f"{exc}; row skipped"))
                    continue
                stats.rows += 1
                if epc in _CONTEXT_EPCS:
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
