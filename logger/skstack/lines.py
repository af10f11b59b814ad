"""SKSTACK-IP text lines -> events (part of :mod:`logger.skstack.parser`).

:class:`LineParser` takes one complete line at a time (without its terminator) and keeps
the state of the two multi-line blocks: ``EPANDESC`` (indented ``Key:Value`` lines) and
``EPORT`` (a list of port numbers). Nothing raises: a line that cannot be placed becomes
:class:`~logger.skstack.events.Unknown` with a reason.
"""

from __future__ import annotations

import re

from logger.skstack.dialects.base import EVENT_DS, Dialect
from logger.skstack.erxudp import ADDR
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
    SkEvent,
    Unknown,
    mask_command,
    redact,
)

#: Characters of a dropped line kept in its Unknown.
SHOWN = 200

_EVENT_SHAPES = {
    "sender": re.compile(ADDR),
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


def shown(text: str) -> str:
    """``text`` as an Unknown may carry it: secrets redacted, at most :data:`SHOWN` characters."""
    text = redact(text)
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


def unknown(raw: bytes | str, reason: str) -> Unknown:
    text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
    return Unknown(shown(text), reason)


class LineParser:
    """One line at a time; ``dialect`` (optional) fixes the EVENT layout."""

    def __init__(self, dialect: Dialect | None = None) -> None:
        self.dialect = dialect
        self._pandesc: dict[str, str] | None = None
        self._eport: list[int] | None = None
        self._eport_second = False  # BP35A1 quirk: a blank line then a second partial list

    def end_blocks(self) -> list[SkEvent]:
        """End of input: the pending EPANDESC / EPORT block, if any."""
        out: list[SkEvent] = []
        if self._pandesc is not None:
            out.append(self._finish_pandesc())
        if self._eport is not None:
            out.append(EPort(tuple(self._eport)))
            self._eport = None
        return out

    def line(self, raw: bytes) -> list[SkEvent]:
        """The events one line (without its terminator) completes."""
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
            return [unknown(line[:glued].strip(), "stray text glued before EVENT"), *self._body(line[glued:])]
        tokens = line.split()
        word = tokens[0]
        if word == "OK":
            return [Ok(" ".join(tokens[1:]) or None)]
        if word == "FAIL":
            if len(tokens) == 2 and _FAIL_CODE.fullmatch(tokens[1]):
                return [Fail(tokens[1].upper())]
            return [unknown(line, "FAIL without an ERxx code")]
        if word == "EVENT":
            return [self._event(line, tokens)]
        if word == "EPANDESC" and len(tokens) == 1:
            self._pandesc = {}
            return []
        if word == "EPORT" and len(tokens) == 1:
            self._eport, self._eport_second = [], False
            return []
        if word == "EINFO":
            return [_einfo(line, tokens)]
        if word in ("EVER", "EAPPVER", "ESREG"):
            if len(tokens) < 2:
                return [unknown(line, f"{word} without a value")]
            value = " ".join(tokens[1:])
            return [Ever(value) if word == "EVER" else EAppVer(value) if word == "EAPPVER" else ESReg(value)]
        if _COMMAND_WORD.fullmatch(word):
            return [_echo(word, tokens)]
        if len(tokens) == 1 and _IPV6.fullmatch(word):
            return [Ll64(word.upper())]
        return [unknown(line, "not an SKSTACK-IP line")]

    def _event(self, line: str, tokens: list[str]) -> Event | Unknown:
        if len(tokens) < 2 or not _HEX2.fullmatch(tokens[1]) or len(tokens[1]) != 2:
            return unknown(line, "EVENT without a 2-digit event number")
        layout = self.dialect.event_fields if self.dialect else EVENT_DS
        found: dict[str, str] = {}
        i = 0
        for tok in tokens[2:]:
            while i < len(layout) and not _EVENT_SHAPES[layout[i]].fullmatch(tok):
                i += 1
            if i == len(layout):
                return unknown(line, f"EVENT field {tok!r} does not fit {' '.join(layout).upper()}")
            found[layout[i]] = tok
            i += 1
        return Event(
            num=int(tokens[1], 16),
            sender=found["sender"].upper() if "sender" in found else None,
            side=int(found["side"]) if "side" in found else None,
            param=int(found["param"], 16) if "param" in found else None,
        )

    def _pandesc_field(self, field: str) -> list[SkEvent]:
        assert self._pandesc is not None
        key, sep, value = field.partition(":")
        if not sep:
            return [unknown(field, "EPANDESC line without 'Key:Value'")]
        self._pandesc[key.strip()] = value.strip()
        if key.strip() == "PairID":
            return [self._finish_pandesc()]
        return []

    def _finish_pandesc(self) -> PanDesc | Unknown:
        fields, self._pandesc = self._pandesc or {}, None
        text = "EPANDESC " + " ".join(f"{k}:{v}" for k, v in fields.items())
        missing = [k for k in _PANDESC_REQUIRED if k not in fields]
        if missing:
            return unknown(text, f"EPANDESC block incomplete: missing {', '.join(missing)}")
        args: dict[str, int | str] = {}
        for key, (attr, shape) in _PANDESC_KEYS.items():
            if key not in fields:
                continue
            value = fields[key]
            if not shape.fullmatch(value):
                what = "" if key == "PairID" else f" {value!r}"  # PairID is part of the B-route ID
                return unknown(text, f"EPANDESC {key}{what} is malformed")
            if attr == "addr":
                args[attr] = value.upper()
            elif attr == "pair_id":
                args[attr] = value
            elif attr == "side":
                args[attr] = int(value)
            else:
                args[attr] = int(value, 16)
        return PanDesc(**args)  # type: ignore[arg-type]


def _echo(word: str, tokens: list[str]) -> Echo:
    if word == "SKSENDTO":
        # Keep the header only: HANDLE IP PORT SEC [SIDE] DATALEN, never the data.
        if len(tokens) > 5 and _HEX4.fullmatch(tokens[5]):
            tokens = tokens[:6]
        elif len(tokens) > 6 and _DIGIT.fullmatch(tokens[5]) and _HEX4.fullmatch(tokens[6]):
            tokens = tokens[:7]
        else:
            tokens = tokens[:5]
    return Echo(word, shown(mask_command(" ".join(tokens))))


def _einfo(line: str, tokens: list[str]) -> EInfo | Unknown:
    if (
        len(tokens) != 6
        or not _IPV6.fullmatch(tokens[1])
        or not _HEX16.fullmatch(tokens[2])
        or not _HEX2.fullmatch(tokens[3])
        or not _HEX4.fullmatch(tokens[4])
        or not _HEXN.fullmatch(tokens[5])
    ):
        return unknown(line, "EINFO needs IPADDR ADDR64 CHANNEL PANID ADDR16/SIDE")
    return EInfo(
        ipaddr=tokens[1].upper(),
        addr64=tokens[2].upper(),
        channel=int(tokens[3], 16),
        pan_id=int(tokens[4], 16),
        fifth=tokens[5].upper(),
    )
