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
"""

from __future__ import annotations

import re

from logger.skstack.dialects.base import (
    ERXUDP_ALL,
    EVENT_DS,
    MAX_DATALEN,
    Dialect,
)
from logger.skstack.events import (
    EAppVer,
    Echo,
    EInfo,
    EPort,
    ESReg,
    Event,
    Ever,
    Fail,
    Ll64,
    Ok,
    PanDesc,
    RxUdp,
    SkEvent,
    Unknown,
    mask_command,
    redact,
)

#: Longest text line kept; longer lines are dropped (as one Unknown) up to their end.
MAX_LINE = 4096
#: Longest ERXUDP header token (an IPv6 address is 39 characters).
_MAX_TOKEN = 40
#: Characters of a dropped line kept in its Unknown.
_SHOWN = 200

_CR, _LF, _SPACE = 0x0D, 0x0A, 0x20
_EOL = re.compile(rb"[\r\n]")
_HEXBYTES = re.compile(rb"[0-9A-Fa-f]*")
_ERXUDP = b"ERXUDP "

# Field shapes. '*', 'X' and 'Y' are allowed in addresses because published logs
# (which replay and the tests read) mask them that way; a dongle prints hex only.
_ADDR = r"[0-9A-Fa-f*XxYy]{4}(?::[0-9A-Fa-f*XxYy]{4}){7}"
_SHAPES_B = {
    "sender": re.compile(_ADDR.encode()),
    "dest": re.compile(_ADDR.encode()),
    "rport": re.compile(rb"[0-9A-Fa-f]{4}"),
    "lport": re.compile(rb"[0-9A-Fa-f]{4}"),
    "sender_lla": re.compile(rb"[0-9A-Fa-f*XxYy]{16}"),
    "lqi": re.compile(rb"[0-9A-Fa-f]{2}"),
    "secured": re.compile(rb"[0-9A-Fa-f]"),
    "side": re.compile(rb"[0-9]"),
    "datalen": re.compile(rb"[0-9A-Fa-f]{4}"),
}
_EVENT_SHAPES = {
    "sender": re.compile(_ADDR),
    "side": re.compile(r"[0-9]"),
    "param": re.compile(r"[0-9A-Fa-f]{2}"),
}
_IPV6 = re.compile(r"[0-9A-Fa-f]{4}(?::[0-9A-Fa-f]{4}){7}")
_HEX2 = re.compile(r"[0-9A-Fa-f]{1,2}")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
#: The pairing ID is the last 8 characters of the B-route ID: hex in practice, but any
#: printable ASCII is accepted so an unusual ID never makes the meter invisible.
_PAIR_ID = re.compile(r"[!-~]{8}")
_HEX16 = re.compile(r"[0-9A-Fa-f]{16}")
_HEXN = re.compile(r"[0-9A-Fa-f]{1,4}")
_DIGIT = re.compile(r"[0-9]")
_DECIMAL = re.compile(r"[0-9]{1,5}")
_FAIL_CODE = re.compile(r"ER[0-9A-Fa-f]{2}")
_COMMAND_WORD = re.compile(r"SK[A-Z0-9]+|WOPT|ROPT|WUART|RUART")

#: EPANDESC keys -> (attribute, shape); Side and PairID are optional.
_PANDESC_KEYS = {
    "Channel": ("channel", _HEX2),
    "Channel Page": ("channel_page", _HEX2),
    "Pan ID": ("pan_id", _HEX4),
    "Addr": ("addr", _HEX16),
    "LQI": ("lqi", _HEX2),
    "Side": ("side", _DIGIT),
    "PairID": ("pair_id", _PAIR_ID),
}
_PANDESC_REQUIRED = ("Channel", "Channel Page", "Pan ID", "Addr", "LQI")

_NEED_MORE = None  # a layout or data decision needs more bytes


def _shown(text: str) -> str:
    text = redact(text)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _unknown(raw: bytes | str, reason: str) -> Unknown:
    text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
    return Unknown(_shown(text), reason)


class SkParser:
    """Incremental SKSTACK-IP parser.

    ``dialect`` (optional) restricts the ERXUDP and EVENT layouts to the dongle's own
    and tells whether binary ERXUDP data is possible; without it every layout is
    accepted and told apart by its token shapes.
    """

    def __init__(self, dialect: Dialect | None = None) -> None:
        self.dialect = dialect
        #: Number of Unknown events produced so far.
        self.dropped = 0
        self._buf = bytearray()
        self._skip_lf = False  # the last line ended in a CR at the end of the buffer
        self._discarding = False  # dropping the rest of an over-long line
        self._pandesc: dict[str, str] | None = None
        self._eport: list[int] | None = None
        self._eport_second = False  # BP35A1 quirk: a blank line then a second partial list

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
            m = _EOL.search(buf)
            eol = m.start() if m else len(buf)
            if buf.find(_ERXUDP, 0, min(eol, MAX_LINE)) >= 0:
                # Waiting for data that will never come: drop that line, parse what follows.
                out.append(_unknown(buf[:eol], "input ended inside an ERXUDP line"))
                del buf[: self._after_eol(eol) if m else eol]
            else:
                out.extend(self._line(bytes(buf)))
                buf.clear()
            while self._step(out):
                pass
        buf.clear()
        self._discarding = False
        self._skip_lf = False
        out.extend(self._end_blocks())
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
        m = _EOL.search(buf)
        eol = m.start() if m else -1
        if self._discarding:
            if eol < 0:
                buf.clear()
                return False
            del buf[: self._after_eol(eol)]
            self._discarding = False
            return True
        head_len = eol if eol >= 0 else len(buf)
        p = buf.find(_ERXUDP, 0, min(head_len, MAX_LINE))
        failed = ""
        if p >= 0:
            result = self._erxudp(p)
            if result is _NEED_MORE:
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
                out.append(_unknown(buf[:_SHOWN], f"line longer than {MAX_LINE} bytes"))
                buf.clear()
                self._discarding = True
            return False
        if eol > MAX_LINE:
            out.append(_unknown(buf[:_SHOWN], f"line longer than {MAX_LINE} bytes"))
        elif failed:
            out.append(_unknown(buf[:eol], failed))
        else:
            out.extend(self._line(bytes(buf[:eol])))
        del buf[: self._after_eol(eol)]
        return True

    # ------------------------------------------------------------------ ERXUDP

    def _erxudp(self, p: int) -> tuple[list[SkEvent], int] | str | None:
        """Parse an ERXUDP starting at ``p``: (events, end), a reason no layout fits, or None (need more)."""
        layouts = self.dialect.erxudp_layouts if self.dialect else ERXUDP_ALL
        pending = False
        reasons: list[str] = []
        for layout in layouts:
            r = self._match(p, layout)
            if r is _NEED_MORE:
                pending = True
            elif isinstance(r, str):
                reasons.append(r)
            else:
                rx, end = r
                events: list[SkEvent] = []
                prefix = bytes(self._buf[:p]).strip()
                if prefix:
                    events.append(_unknown(prefix, "stray text glued before ERXUDP"))
                events.append(rx)
                return events, end
        if pending:
            return _NEED_MORE
        return "malformed ERXUDP: " + "; ".join(dict.fromkeys(reasons))

    def _match(self, p: int, layout: tuple[str, ...]) -> tuple[RxUdp, int] | str | None:
        buf = self._buf
        pos = p + len(_ERXUDP) - 1  # at the space after the word
        values: dict[str, str] = {}
        for name in layout:
            if pos >= len(buf):
                return _NEED_MORE
            if buf[pos] != _SPACE:
                return f"expected one space before {name}"
            start = pos + 1
            sp = buf.find(b" ", start, start + _MAX_TOKEN + 1)
            tok = buf[start : (sp if sp >= 0 else start + _MAX_TOKEN + 1)]
            if _EOL.search(tok):
                return f"line ends before {name} ({len(layout) + 2} fields expected)"
            if sp < 0:
                return f"{name} too long" if len(tok) > _MAX_TOKEN else _NEED_MORE
            if not _SHAPES_B[name].fullmatch(tok):
                return f"{name} {bytes(tok).decode('ascii', 'replace')!r} is malformed"
            values[name] = tok.decode("ascii")
            pos = sp
        n = int(values["datalen"], 16)
        if n > MAX_DATALEN:
            return f"DATALEN {n} exceeds {MAX_DATALEN}"
        d = pos + 1
        decided = self._data_format(d, n)
        if decided is _NEED_MORE or isinstance(decided, str):
            return decided
        binary = decided
        if binary:
            data, end = bytes(buf[d : d + n]), d + n
        else:
            data, end = bytes.fromhex(buf[d : d + 2 * n].decode("ascii")), d + 2 * n
        rx = RxUdp(
            sender=values["sender"].upper(),
            dest=values["dest"].upper(),
            rport=int(values["rport"], 16),
            lport=int(values["lport"], 16),
            sender_lla=values["sender_lla"].upper(),
            secured=int(values["secured"], 16),
            data=data,
            side=int(values["side"]) if "side" in values else None,
            lqi=int(values["lqi"], 16) if "lqi" in values else None,
            binary=binary,
        )
        return rx, self._after_eol(end)

    def _data_format(self, d: int, n: int) -> bool | str | None:
        """Binary (True) or hex (False) data at ``d``; None = need more; str = neither fits.

        Hex needs 2N hex digits then a line end; binary needs N bytes then a line end.
        For N >= 1 these exclude each other (byte N is a hex digit or a line end),
        so at most N+1 bytes (binary) or 2N+1 bytes (hex) are ever awaited.
        """
        buf = self._buf
        avail = len(buf) - d
        binary_ok = self.dialect is None or self.dialect.binary_possible
        if n == 0:
            if avail < 1:
                return _NEED_MORE
            if buf[d] in (_CR, _LF):
                return bool(self.dialect and self.dialect.default_binary)
            return "data present but DATALEN is 0"
        hex_state: bool | None
        if not _HEXBYTES.fullmatch(buf, d, d + min(avail, 2 * n)):
            hex_state = False
        elif avail > 2 * n:
            hex_state = buf[d + 2 * n] in (_CR, _LF)
        else:
            hex_state = None
        if hex_state:
            return False
        bin_state: bool | None = False
        if binary_ok:
            bin_state = (buf[d + n] in (_CR, _LF)) if avail > n else None
        if bin_state and hex_state is False:
            return True
        if hex_state is False and bin_state is False:
            what = f"{2 * n} hex digits" if not binary_ok else f"{2 * n} hex digits or {n} raw bytes"
            return f"data does not match DATALEN {n:04X} ({what} then a line end)"
        return _NEED_MORE

    # ------------------------------------------------------------------- lines

    def _end_blocks(self) -> list[SkEvent]:
        out: list[SkEvent] = []
        if self._pandesc is not None:
            out.append(self._finish_pandesc())
        if self._eport is not None:
            out.append(EPort(tuple(self._eport)))
            self._eport = None
        return out

    def _line(self, raw: bytes) -> list[SkEvent]:
        text = raw.decode("utf-8", "replace")
        stripped = text.strip()
        if self._pandesc is not None:
            if not stripped:
                return []
            if text[0] in " \t":
                return self._pandesc_field(stripped)
            return [self._finish_pandesc(), *self._body(stripped)]
        if self._eport is not None:
            if not stripped:
                self._eport_second = True
                return []
            if _DECIMAL.fullmatch(stripped):
                if not self._eport_second:
                    self._eport.append(int(stripped))
                return []
            ports, self._eport = tuple(self._eport), None
            return [EPort(ports), *self._body(stripped)]
        if not stripped:
            return []
        return self._body(stripped)

    def _body(self, line: str) -> list[SkEvent]:
        glued = line.find("EVENT ")
        if glued > 0:
            return [_unknown(line[:glued].strip(), "stray text glued before EVENT"), *self._body(line[glued:])]
        tokens = line.split()
        word = tokens[0]
        if word == "OK":
            return [Ok(" ".join(tokens[1:]) or None)]
        if word == "FAIL":
            if len(tokens) == 2 and _FAIL_CODE.fullmatch(tokens[1]):
                return [Fail(tokens[1].upper())]
            return [_unknown(line, "FAIL without an ERxx code")]
        if word == "EVENT":
            return [self._event(line, tokens)]
        if word == "EPANDESC" and len(tokens) == 1:
            self._pandesc = {}
            return []
        if word == "EPORT" and len(tokens) == 1:
            self._eport, self._eport_second = [], False
            return []
        if word == "EINFO":
            return [self._einfo(line, tokens)]
        if word in ("EVER", "EAPPVER", "ESREG"):
            if len(tokens) < 2:
                return [_unknown(line, f"{word} without a value")]
            value = " ".join(tokens[1:])
            return [Ever(value) if word == "EVER" else EAppVer(value) if word == "EAPPVER" else ESReg(value)]
        if _COMMAND_WORD.fullmatch(word):
            return [self._echo(word, tokens)]
        if len(tokens) == 1 and _IPV6.fullmatch(word):
            return [Ll64(word.upper())]
        return [_unknown(line, "not an SKSTACK-IP line")]

    def _echo(self, word: str, tokens: list[str]) -> Echo:
        if word == "SKSENDTO":
            # Keep the header only: HANDLE IP PORT SEC [SIDE] DATALEN, never the data.
            if len(tokens) > 5 and _HEX4.fullmatch(tokens[5]):
                tokens = tokens[:6]
            elif len(tokens) > 6 and _DIGIT.fullmatch(tokens[5]) and _HEX4.fullmatch(tokens[6]):
                tokens = tokens[:7]
            else:
                tokens = tokens[:5]
        return Echo(word, _shown(mask_command(" ".join(tokens))))

    def _event(self, line: str, tokens: list[str]) -> Event | Unknown:
        if len(tokens) < 2 or not _HEX2.fullmatch(tokens[1]) or len(tokens[1]) != 2:
            return _unknown(line, "EVENT without a 2-digit event number")
        layout = self.dialect.event_fields if self.dialect else EVENT_DS
        found: dict[str, str] = {}
        i = 0
        for tok in tokens[2:]:
            while i < len(layout) and not _EVENT_SHAPES[layout[i]].fullmatch(tok):
                i += 1
            if i == len(layout):
                return _unknown(line, f"EVENT field {tok!r} does not fit {' '.join(layout).upper()}")
            found[layout[i]] = tok
            i += 1
        return Event(
            num=int(tokens[1], 16),
            sender=found["sender"].upper() if "sender" in found else None,
            side=int(found["side"]) if "side" in found else None,
            param=int(found["param"], 16) if "param" in found else None,
        )

    def _einfo(self, line: str, tokens: list[str]) -> EInfo | Unknown:
        if (
            len(tokens) != 6
            or not _IPV6.fullmatch(tokens[1])
            or not _HEX16.fullmatch(tokens[2])
            or not _HEX2.fullmatch(tokens[3])
            or not _HEX4.fullmatch(tokens[4])
            or not _HEXN.fullmatch(tokens[5])
        ):
            return _unknown(line, "EINFO needs IPADDR ADDR64 CHANNEL PANID ADDR16/SIDE")
        return EInfo(
            ipaddr=tokens[1].upper(),
            addr64=tokens[2].upper(),
            channel=int(tokens[3], 16),
            pan_id=int(tokens[4], 16),
            fifth=tokens[5].upper(),
        )

    def _pandesc_field(self, field: str) -> list[SkEvent]:
        assert self._pandesc is not None
        key, sep, value = field.partition(":")
        if not sep:
            return [_unknown(field, "EPANDESC line without 'Key:Value'")]
        self._pandesc[key.strip()] = value.strip()
        if key.strip() == "PairID":
            return [self._finish_pandesc()]
        return []

    def _finish_pandesc(self) -> PanDesc | Unknown:
        fields, self._pandesc = self._pandesc or {}, None
        text = "EPANDESC " + " ".join(f"{k}:{v}" for k, v in fields.items())
        missing = [k for k in _PANDESC_REQUIRED if k not in fields]
        if missing:
            return _unknown(text, f"EPANDESC block incomplete: missing {', '.join(missing)}")
        args: dict[str, int | str] = {}
        for key, (attr, shape) in _PANDESC_KEYS.items():
            if key not in fields:
                continue
            value = fields[key]
            if not shape.fullmatch(value):
                shown = "" if key == "PairID" else f" {value!r}"  # PairID is part of the B-route ID
                return _unknown(text, f"EPANDESC {key}{shown} is malformed")
            if attr == "addr":
                args[attr] = value.upper()
            elif attr == "pair_id":
                args[attr] = value
            elif attr == "side":
                args[attr] = int(value)
            else:
                args[attr] = int(value, 16)
        return PanDesc(**args)  # type: ignore[arg-type]
