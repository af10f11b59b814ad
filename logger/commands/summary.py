"""``smartmeter-logger summary``: kWh bought and sold per day / half-hour / month, and the cost,
from the daily CSV files alone (no InfluxDB needed). The computation is :mod:`logger.summary`.

Exit codes: 0 done (even with skipped rows or missing half-hours), 1 no CSV directory / no files
in the range / no rows for the meter, 2 configuration or usage error.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from logger.config import ConfigError, load_settings
from logger.price import PRICE_ENV, env_price, parse_price
from logger.readings import format_decimal
from logger.summary import (
    BY,
    Issue,
    PeriodSummary,
    Stats,
    SummaryError,
    find_files,
    summarize,
)
from logger.summary_periods import label
from logger.typehints import TextIO

MAX_REPORTED_ISSUES = 50


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="settings.yml (default: config/settings.yml when present)")
    parser.add_argument("--from", dest="date_from", metavar="DATE",
                        help="first day, YYYY-MM-DD or YYYY-MM (default: the first file; --by halfhour: --to)")
    parser.add_argument("--to", dest="date_to", metavar="DATE",
                        help="last day, YYYY-MM-DD or YYYY-MM (= its last day) (default: the newest file)")
    parser.add_argument("--by", choices=BY, default="day", help="period (default: day)")
    parser.add_argument("--price", metavar="JPY_PER_KWH",
                        help=f"unit price for the cost estimate (default: {PRICE_ENV} from the environment "
                             "or .env; no cost column without either)")
    parser.add_argument("--csv", action="store_true", help="machine-readable CSV on stdout instead of a table")
    parser.add_argument("--unitid", help="meter to summarise (default: meter.unitid / LOGGER_UNITID)")
    parser.add_argument("--dir", help="CSV directory (default: csv.directory / CSV_DIR)")


def parse_date(text: str, end: bool) -> date:
    """``YYYY-MM-DD``, or ``YYYY-MM`` (its first day, or its last when ``end``)."""
    try:
        if len(text) == 7:
            first = datetime.strptime(text, "%Y-%m").date()
            if not end:
                return first
            return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (use YYYY-MM-DD or YYYY-MM)") from None


def _num(value: Decimal | None) -> str:
    return "-" if value is None else format_decimal(value)


def _missing(s: PeriodSummary, direction: str) -> str:
    energy = getattr(s, direction)
    if direction == "sold" and not energy.source:
        return "-"  # no EB/E3 rows at all: a meter (or contract) without export
    return str(energy.missing)


def _source(s: PeriodSummary) -> str:
    return f"{s.bought.source or '-'}/{s.sold.source or '-'}"


class _Table:
    """Fixed-width text table (streamed row by row) with a total line."""

    def __init__(self, out: TextIO, by: str, price: Decimal | None) -> None:
        self.out = out
        self.price = price
        # as wide as the longest label of this period kind (a half-hour label carries its UTC offset)
        sample = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-9, minutes=-30)))
        width = max(len(label(sample, by)), len("period"))
        self.cols = [("period", width, "<"), ("bought kWh", 12, ">"), ("sold kWh", 10, ">")]
        if price is not None:
            self.cols.append(("cost JPY", 12, ">"))
        self.cols += [("source", 7, "<"), ("missing", 9, ">"), ("covered (bought)", 0, "<")]
        self.bought = Decimal(0)
        self.sold = Decimal(0)
        self.cost = Decimal(0)
        self.missing = 0
        self.line(c[0] for c in self.cols)

    def line(self, cells) -> None:
        parts = [f"{cell:{align}{width}}" if width else cell for cell, (_n, width, align) in zip(cells, self.cols)]
        self.out.write("  ".join(parts).rstrip() + "\n")

    def row(self, s: PeriodSummary) -> None:
        cells = [s.label, _num(s.bought.kwh), _num(s.sold.kwh)]
        if self.price is not None:
            cells.append(_num(s.cost(self.price)))
        covered = ""
        if s.bought.covered and s.bought.missing:
            a, b = (t.astimezone(s.start.tzinfo) for t in s.bought.covered)
            covered = f"{a:%m-%d %H:%M} .. {b:%m-%d %H:%M}"
        cells += [_source(s), f"{_missing(s, 'bought')}/{_missing(s, 'sold')}", covered]
        self.line(cells)
        self.bought += s.bought.kwh or 0
        self.sold += s.sold.kwh or 0
        self.cost += s.cost(self.price) or 0
        self.missing += s.bought.missing
        self.out.flush()

    def total(self) -> None:
        cells = ["total", format_decimal(self.bought), format_decimal(self.sold)]
        if self.price is not None:
            cells.append(format_decimal(self.cost))
        cells += ["", str(self.missing), ""]
        self.line(cells)
        if self.missing:
            self.out.write(f"{self.missing} half-hour(s) of the past are not in the bought total "
                           "(no meter data for them; nothing is estimated)\n")
        if self.price is not None:
            self.out.write(f"cost = bought kWh x {format_decimal(self.price)} JPY/kWh (energy charge only: "
                           "no basic charge, fuel-cost adjustment or renewable levy)\n")


def main(args: argparse.Namespace) -> int:
    err = sys.stderr
    try:
        settings = load_settings(args.config, check_dirs=False)
    except ConfigError as exc:
        print(exc, file=err)
        return 2
    tz = settings.meter.tz
    unitid = args.unitid or settings.meter.unitid
    directory = Path(args.dir) if args.dir else settings.csv.directory
    try:
        price = None
        if args.price is not None:
            price = parse_price(args.price, "--price")
        elif (found := env_price()) is not None:
            price = parse_price(*found)
        date_from = parse_date(args.date_from, end=False) if args.date_from else None
        date_to = parse_date(args.date_to, end=True) if args.date_to else None
    except ValueError as exc:
        print(f"summary: {exc}", file=err)
        return 2
    if date_from and date_to and date_from > date_to:
        print(f"summary: --from {date_from} is after --to {date_to}", file=err)
        return 2

    try:
        files = find_files(directory, settings.csv.filename)
    except SummaryError as exc:
        print(f"summary: {exc}", file=err)
        return 1
    if not files:
        print(f"summary: no CSV files named like {settings.csv.filename!r} in {directory}", file=err)
        return 1
    last = date_to or files[-1][0]
    first = date_from or (last if args.by == "halfhour" else files[0][0])
    if first > last:
        print(f"summary: --from {first} is after the newest file ({last}); give --to", file=err)
        return 2
    if not any(first <= d <= last + timedelta(days=1) for d, _ in files):
        print(f"summary: no CSV files for {first} .. {last} in {directory} "
              f"(files cover {files[0][0]} .. {files[-1][0]})", file=err)
        return 1

    issues = 0

    def on_issue(issue: Issue) -> None:
        nonlocal issues
        issues += 1
        if issues <= MAX_REPORTED_ISSUES:
            print(f"summary: {issue}", file=err)

    stats = Stats()
    now = datetime.now(UTC)
    out = sys.stdout
    periods = summarize(files, tz, args.by, first, last, unitid, now, on_issue, stats)
    if args.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["period", "start", "end", "bought_kwh", "sold_kwh", "cost_jpy", "bought_source",
                         "sold_source", "bought_missing_halfhours", "sold_missing_halfhours"])
        for s in periods:
            cost = s.cost(price)
            writer.writerow([s.label, s.start.isoformat(), s.end.isoformat(),
                             "" if s.bought.kwh is None else format_decimal(s.bought.kwh),
                             "" if s.sold.kwh is None else format_decimal(s.sold.kwh),
                             "" if cost is None else format_decimal(cost),
                             s.bought.source, s.sold.source, s.bought.missing,
                             s.sold.missing if s.sold.source else ""])
    else:
        table = _Table(out, args.by, price)
        for s in periods:
            table.row(s)
        table.total()
    out.flush()
    if issues > MAX_REPORTED_ISSUES:
        print(f"summary: ... {issues - MAX_REPORTED_ISSUES} more issue(s) not shown", file=err)
    if stats.bad_rows or stats.late_rows:
        print(f"summary: {stats.bad_rows} malformed row(s) and {stats.late_rows} misplaced row(s) skipped "
              f"in {stats.files} file(s)", file=err)
    if stats.rows == 0:
        others = ", ".join(sorted(stats.other_units)[:10])
        hint = f"; the files have unitid {others} (use --unitid)" if others else ""
        print(f"summary: no energy rows for unitid {unitid!r} in {first} .. {last}{hint}", file=err)
        return 1
    return 0
