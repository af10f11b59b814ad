"""SKSTACK-IP output parser: bytes in, :mod:`logger.skstack.events` out (sans-I/O).

The dongle prints text lines ending in CRLF (ROHM product commands end in CR
only; LF alone is accepted too), except the data of a binary-mode ``ERXUDP``,
which is exactly DATALEN raw bytes that may contain CR or LF. So the parser
works on a byte buffer: an ``ERXUDP`` header is recognised wherever it starts
on a line (stray text glued in front is reported separately) and its data is
taken by count, everything else line by line.

Nothing here raises on input: a line that cannot be placed becomes
:class:`~logger.skstack.events.Unknown` with a reason, and parsing carries on
with the next line. Feeding the same bytes in any split gives the same events.

This module frames the byte stream; :mod:`logger.skstack.erxudp` matches an ERXUDP in it and
:mod:`logger.skstack.lines` turns text lines (and the EPANDESC/EPORT blocks) into events.
"""

from __future__ import annotations

from logger.skstack.dialects.base import Dialect
from logger.skstack.erxudp import EOL, NEED_MORE, WORD, match_erxudp
from logger.skstack.events import SkEvent, Unknown
from logger.skstack.lines import SHOWN, LineParser, unknown

#: Longest text line kept; longer lines are dropped (as one Unknown) up to their end.
MAX_LINE = 4096

_CR, _LF = 0x0D, 0x0A


class SkParser:
    """Incremental SKSTACK-IP parser.

    ``dialect`` (optional) restricts the ERXUDP and EVENT layouts to the dongle's own
    and tells whether binary ERXUDP data is possible; without it every layout is
    accepted and told apart by its token shapes.
    """

    def __init__(self, dialect: Dialect | None = None) -> None:
        self._lines = LineParser(dialect)
        #: Number of Unknown events produced so far.
        self.dropped = 0
        self._buf = bytearray()
        self._skip_lf = False  # the last line ended in a CR at the end of the buffer
        self._discarding = False  # dropping the rest of an over-long line

    @property
    def dialect(self) -> Dialect | None:
        return self._lines.dialect

    @dialect.setter
    def dialect(self, dialect: Dialect | None) -> None:
        self._lines.dialect = dialect

    # ------------------------------------------------------------------ public

    def feed(self, data: bytes) -> list[SkEvent]:
        """Add bytes from the dongle; return the events they complete."""
        self._buf += data
        out: list[SkEvent] = []
        while self._step(out):
            pass
        return self._count(out)

    def flush(self) -> list[SkEvent]:
        """End of input: report a pending block, an unfinished ERXUDP and an unterminated line."""
        out: list[SkEvent] = []
        buf = self._buf
        while buf and not self._discarding:
            m = EOL.search(buf)
            eol = m.start() if m else len(buf)
            if buf.find(WORD, 0, min(eol, MAX_LINE)) >= 0:
                # Waiting for data that will never come: drop that line, parse what follows.
                out.append(unknown(buf[:eol], "input ended inside an ERXUDP line"))
                del buf[: self._after_eol(eol) if m else eol]
            else:
                out.extend(self._lines.line(bytes(buf)))
                buf.clear()
            while self._step(out):
                pass
        buf.clear()
        self._discarding = False
        self._skip_lf = False
        out.extend(self._lines.end_blocks())
        return self._count(out)

    # --------------------------------------------------------------- internals

    def _count(self, out: list[SkEvent]) -> list[SkEvent]:
        self.dropped += sum(1 for e in out if isinstance(e, Unknown))
        return out

    def _after_eol(self, pos: int) -> int:
        """Index just past the line terminator at ``pos`` (CRLF, CR or LF)."""
        buf = self._buf
        if buf[pos] == _CR:
            if pos + 1 == len(buf):
                self._skip_lf = True  # a LF may follow in the next chunk
                return pos + 1
            if buf[pos + 1] == _LF:
                return pos + 2
        return pos + 1

    def _step(self, out: list[SkEvent]) -> bool:
        """Consume one unit (line, ERXUDP, terminator); False when more input is needed."""
        buf = self._buf
        if not buf:
            return False
        if self._skip_lf:
            self._skip_lf = False
            if buf[0] == _LF:
                del buf[0]
                return True
        m = EOL.search(buf)
        eol = m.start() if m else -1
        if self._discarding:
            if eol < 0:
                buf.clear()
                return False
            del buf[: self._after_eol(eol)]
            self._discarding = False
            return True
        head_len = eol if eol >= 0 else len(buf)
        p = buf.find(WORD, 0, min(head_len, MAX_LINE))
        failed = ""
        if p >= 0:
            result = self._erxudp(p)
            if result is NEED_MORE:
                return False
            if isinstance(result, str):
                failed = result  # no layout fits: drop the line as one Unknown below
            else:
                events, end = result
                out.extend(events)
                del buf[:end]
                return True
        if eol < 0:
            if len(buf) > MAX_LINE:
                out.append(unknown(buf[:SHOWN], f"line longer than {MAX_LINE} bytes"))
                buf.clear()
                self._discarding = True
            return False
        if eol > MAX_LINE:
            out.append(unknown(buf[:SHOWN], f"line longer than {MAX_LINE} bytes"))
        elif failed:
            out.append(unknown(buf[:eol], failed))
        else:
            out.extend(self._lines.line(bytes(buf[:eol])))
        del buf[: self._after_eol(eol)]
        return True

    def _erxudp(self, p: int) -> tuple[list[SkEvent], int] | str | None:
        """The ERXUDP at ``p``: (events, end), a reason no layout fits, or None (need more)."""
        result = match_erxudp(self._buf, p, self.dialect)
        if result is NEED_MORE or isinstance(result, str):
            return result
        rx, end = result
        events: list[SkEvent] = []
        prefix = bytes(self._buf[:p]).strip()
        if prefix:
            events.append(unknown(prefix, "stray text glued before ERXUDP"))
        events.append(rx)
        return events, self._after_eol(end)
