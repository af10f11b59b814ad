"""Readings -> InfluxDB line protocol, the same schema the Telegraf path produces.

``smartmeter,dataid=R,epc=E8,unitid=smartmeter value=12.5 1795311000000``

* measurement ``smartmeter``; tags ``dataid`` (only when non-empty), ``epc``, ``unitid``
  (sorted by key, as InfluxDB prefers);
* field ``value`` is ALWAYS a float written with a decimal point (``1.0``, never ``1i``
  or ``1``), so the field type never conflicts;
* time in milliseconds (precision ``ms``), truncated like the CSV timestamp.

The same reading always gives the same line, so writing it twice overwrites the point
(same series and timestamp) instead of adding one: re-delivery is harmless.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from logger.readings import Reading

MEASUREMENT = "smartmeter"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_TAG_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", "\\": "\\\\"})


def escape_tag(text: str) -> str:
    """Escape a tag value (commas, equals signs, spaces, backslashes)."""
    if "\n" in text or "\r" in text:
        raise ValueError(f"tag value {text!r} contains a line break")
    return text.translate(_TAG_ESCAPES)


def tag_set(unitid: str, epc: str, dataid: str) -> str:
    """``smartmeter,dataid=..,epc=..,unitid=..`` (everything before the field)."""
    if not unitid or not epc:
        raise ValueError("unitid and epc must not be empty")
    head = MEASUREMENT
    if dataid:
        head += ",dataid=" + escape_tag(dataid)
    return f"{head},epc={escape_tag(epc)},unitid={escape_tag(unitid)}"


def float_text(value: float) -> str:
    """Shortest exact float text, always with a point or exponent (``1.0``, ``3871.2``, ``1e+16``)."""
    if not math.isfinite(value):
        raise ValueError(f"value {value!r} cannot be written to InfluxDB")
    return repr(float(value))


def epoch_ms(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("reading timestamps must be timezone-aware")
    return (ts - _EPOCH) // _MS


def to_line(reading: Reading) -> str:
    return (f"{tag_set(reading.unitid, reading.epc, reading.dataid)} "
            f"value={float_text(float(reading.value))} {epoch_ms(reading.timestamp)}")
