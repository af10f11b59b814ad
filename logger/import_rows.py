"""One CSV row of the logger's daily files -> one InfluxDB line protocol line (for ``import``).

The line is exactly what the live InfluxDB sink writes for that reading (same
:mod:`logger.sinks.points` functions), so an import overwrites instead of duplicating.
Rows are split with ``str.split`` (the logger never writes a field that needs CSV quoting;
a line containing a quote goes through the :mod:`csv` module); tag sets, values and the
last timestamp are cached because they repeat.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime

from logger.readings import parse_timestamp
from logger.sinks.points import epoch_ms, tag_set

_CACHE_LIMIT = 100_000


class RowConverter:
    """CSV row -> line protocol, with small caches (timestamps, tag sets and values repeat)."""

    def __init__(self) -> None:
        self._tags: dict[tuple[str, str, str], str] = {}
        self._values: dict[str, str] = {}
        self._last_ts = ""
        self._last_ms = ""

    def text(self, text: str) -> str:
        """The line for one CSV line (no line break); raises ValueError with a reason for a bad row."""
        if '"' in text:  # quoted fields: never written by the logger, but valid CSV
            return self.line(next(csv.reader([text]), []))
        return self.line(text.split(","))

    def convert(self, texts: list[str], out: list[str], first_lineno: int) -> list[tuple[int, str]]:
        """Append the lines for CSV lines ``texts`` to ``out``; (line number, reason) of each bad row.

        The same result as :meth:`text` for each line (empty lines are skipped), in one loop: the
        common row (known tags and value, no quote) costs a split, two lookups and, when the
        timestamp changes, one ``fromisoformat``.
        """
        tags_get, values_get, append = self._tags.get, self._values.get, out.append
        last_ts, last_ms = self._last_ts, self._last_ms
        bad: list[tuple[int, str]] = []
        lineno = first_lineno - 1
        for text in texts:
            lineno += 1
            if not text:
                continue
            row = text.split(",")
            if len(row) == 5 and '"' not in text:
                ts, unitid, epc, dataid, value = row
                tags = tags_get((unitid, epc, dataid))
                number = values_get(value)
                if tags is not None and number is not None:
                    if ts == last_ts:
                        append(tags + number + last_ms)
                        continue
                    try:
                        when = datetime.fromisoformat(ts)
                    except ValueError:
                        when = None
                    if when is not None and when.tzinfo is not None:
                        last_ts, last_ms = ts, " " + str(epoch_ms(when))
                        append(tags + number + last_ms)
                        continue
            self._last_ts, self._last_ms = last_ts, last_ms  # anything else: the one-row way
            try:
                append(self.text(text))
            except ValueError as exc:
                bad.append((lineno, str(exc)))
            last_ts, last_ms = self._last_ts, self._last_ms
        self._last_ts, self._last_ms = last_ts, last_ms
        return bad

    def line(self, row: list[str]) -> str:
        """The line for ``row``; raises ValueError with a reason for a bad row."""
        if len(row) != 5:
            raise ValueError(f"expected 5 columns, got {len(row)}")
        ts, unitid, epc, dataid, value = row
        key = (unitid, epc, dataid)
        tags = self._tags.get(key)
        if tags is None:
            if not unitid or not epc:
                raise ValueError("unitid and epc must not be empty")
            tags = tag_set(unitid, epc, dataid) + " value="
            if len(self._tags) < _CACHE_LIMIT:
                self._tags[key] = tags
        if ts != self._last_ts:
            self._last_ms = " " + str(_parse_ms(ts))
            self._last_ts = ts
        number = self._values.get(value)
        if number is None:
            try:
                parsed = float(value)
            except ValueError:
                raise ValueError(f"bad value {value[:40]!r}") from None
            if not math.isfinite(parsed):
                raise ValueError(f"value {value[:40]!r} is not a finite number")
            number = repr(parsed)  # = points.float_text
            if len(self._values) < _CACHE_LIMIT:
                self._values[value] = number
        return tags + number + self._last_ms


def _parse_ms(ts: str) -> int:
    return epoch_ms(parse_timestamp(ts))
