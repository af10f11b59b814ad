"""Reading the daily CSV files for ``summary`` (part of :mod:`logger.summary`): which files,
one row's time and value, and the scaling context (D3/D7/E1) from earlier files.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from logger.readings import parse_timestamp
from logger.summary_counters import Context

#: EPCs that scale the energy counters
CONTEXT_EPCS = frozenset({"D3", "D7", "E1"})


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


def parse_row(row: list[str]) -> tuple[datetime, Decimal]:
    """(UTC time, value) of a 5-column row; ValueError with the reason for a bad one."""
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
                    if len(row) == 5 and row[2] in CONTEXT_EPCS and row[1] == unitid and not row[3]:
                        try:
                            t, v = parse_row(row)
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
