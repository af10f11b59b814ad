"""The one record every sink writes: a property value at a time (one CSV row)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

CSV_HEADER = ("timestamp", "unitid", "epc", "dataid", "value")


def format_decimal(value: Decimal) -> str:
    """Exact, plain notation without superfluous trailing zeros: ``3871.2``, ``100``, ``-1962``."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    text = format(value.normalize(), "f")
    return text


def format_timestamp(ts: datetime) -> str:
    """ISO-8601 with milliseconds and UTC offset: ``2026-11-22T10:30:00.000+09:00``."""
    if ts.tzinfo is None:
        raise ValueError("reading timestamps must be timezone-aware")
    return ts.isoformat(timespec="milliseconds")


def parse_timestamp(ts: str) -> datetime:
    """A CSV timestamp back to an aware datetime; ``ValueError`` naming the problem otherwise."""
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        raise ValueError(f"bad timestamp {ts[:40]!r}") from None
    if when.tzinfo is None:
        raise ValueError(f"timestamp {ts[:40]!r} has no UTC offset")
    return when


@dataclass(frozen=True, slots=True)
class Reading:
    """One recorded value: a CSV row (``timestamp,unitid,epc,dataid,value``) and an InfluxDB point."""

    timestamp: datetime  # timezone-aware
    unitid: str
    epc: str  # upper-case hex, e.g. "E7"; non-meter sensors may use their own id
    dataid: str  # "" or a sub-item: "R"/"T" for E8, "normal"/"reverse" for EC/EE/D0
    value: Decimal

    def csv_row(self) -> tuple[str, str, str, str, str]:
        return (format_timestamp(self.timestamp), self.unitid, self.epc, self.dataid, format_decimal(self.value))

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity of a reading for de-duplication: time, unit, epc, dataid."""
        return (format_timestamp(self.timestamp), self.unitid, self.epc, self.dataid)
