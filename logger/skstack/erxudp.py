"""Matching one ``ERXUDP`` in the parser's byte buffer (part of :mod:`logger.skstack.parser`).

An ERXUDP header is space-separated tokens in one of the dialect's layouts, then DATALEN
bytes of data: raw (binary mode) or as 2 x DATALEN hex digits, then a line end. The data
may contain CR or LF, so it is taken by count, never by line. Functions here only look at
the buffer; the parser owns it and removes what was consumed.
"""

from __future__ import annotations

import re

from logger.skstack.dialects.base import ERXUDP_ALL, MAX_DATALEN, Dialect
from logger.skstack.events import RxUdp

#: The word that starts an ERXUDP line (with its space).
WORD = b"ERXUDP "
#: A layout or data decision needs more bytes.
NEED_MORE = None
#: Longest ERXUDP header token (an IPv6 address is 39 characters).
_MAX_TOKEN = 40

_CR, _LF, _SPACE = 0x0D, 0x0A, 0x20
EOL = re.compile(rb"[\r\n]")
_HEXBYTES = re.compile(rb"[0-9A-Fa-f]*")

# Field shapes. '*', 'X' and 'Y' are allowed in addresses because published logs
# (which replay and the tests read) mask them that way; a dongle prints hex only.
ADDR = r"[0-9A-Fa-f*XxYy]{4}(?::[0-9A-Fa-f*XxYy]{4}){7}"
_SHAPES = {
    "sender": re.compile(ADDR.encode()),
    "dest": re.compile(ADDR.encode()),
    "rport": re.compile(rb"[0-9A-Fa-f]{4}"),
    "lport": re.compile(rb"[0-9A-Fa-f]{4}"),
    "sender_lla": re.compile(rb"[0-9A-Fa-f*XxYy]{16}"),
    "lqi": re.compile(rb"[0-9A-Fa-f]{2}"),
    "secured": re.compile(rb"[0-9A-Fa-f]"),
    "side": re.compile(rb"[0-9]"),
    "datalen": re.compile(rb"[0-9A-Fa-f]{4}"),
}


def match_erxudp(buf: bytearray, p: int, dialect: Dialect | None) -> tuple[RxUdp, int] | str | None:
    """The ERXUDP whose word starts at ``buf[p]``.

    Returns (event, index of the line end after the data), a reason no layout of ``dialect``
    (every layout when None) fits, or :data:`NEED_MORE`.
    """
    layouts = dialect.erxudp_layouts if dialect else ERXUDP_ALL
    pending = False
    reasons: list[str] = []
    for layout in layouts:
        r = _match(buf, p, layout, dialect)
        if r is NEED_MORE:
            pending = True
        elif isinstance(r, str):
            reasons.append(r)
        else:
            return r
    if pending:
        return NEED_MORE
    return "malformed ERXUDP: " + "; ".join(dict.fromkeys(reasons))


def _match(buf: bytearray, p: int, layout: tuple[str, ...], dialect: Dialect | None) -> tuple[RxUdp, int] | str | None:
    pos = p + len(WORD) - 1  # at the space after the word
    values: dict[str, str] = {}
    for name in layout:
        if pos >= len(buf):
            return NEED_MORE
        if buf[pos] != _SPACE:
            return f"expected one space before {name}"
        start = pos + 1
        sp = buf.find(b" ", start, start + _MAX_TOKEN + 1)
        tok = buf[start : (sp if sp >= 0 else start + _MAX_TOKEN + 1)]
        if EOL.search(tok):
            return f"line ends before {name} ({len(layout) + 2} fields expected)"
        if sp < 0:
            return f"{name} too long" if len(tok) > _MAX_TOKEN else NEED_MORE
        if not _SHAPES[name].fullmatch(tok):
            return f"{name} {bytes(tok).decode('ascii', 'replace')!r} is malformed"
        values[name] = tok.decode("ascii")
        pos = sp
    n = int(values["datalen"], 16)
    if n > MAX_DATALEN:
        return f"DATALEN {n} exceeds {MAX_DATALEN}"
    d = pos + 1
    decided = _data_format(buf, d, n, dialect)
    if decided is NEED_MORE or isinstance(decided, str):
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
    return rx, end


def _data_format(buf: bytearray, d: int, n: int, dialect: Dialect | None) -> bool | str | None:
    """Binary (True) or hex (False) data at ``d``; None = need more; str = neither fits.

    Hex needs 2N hex digits then a line end; binary needs N bytes then a line end.
    For N >= 1 these exclude each other (byte N is a hex digit or a line end),
    so at most N+1 bytes (binary) or 2N+1 bytes (hex) are ever awaited.
    """
    avail = len(buf) - d
    binary_ok = dialect is None or dialect.binary_possible
    if n == 0:
        if avail < 1:
            return NEED_MORE
        if buf[d] in (_CR, _LF):
            return bool(dialect and dialect.default_binary)
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
    return NEED_MORE
