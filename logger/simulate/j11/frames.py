"""J11 binary framing as the simulated adapter sees it: host requests in, responses out.

Facts and where they come from (every one cross-checked; "uncertain" marks a choice the
public sources do not settle):

* Every message is big-endian with a 12-byte header: unique code (4), command code (2),
  message length (2) = 4 + data length, header checksum (2), data checksum (2), then the
  data. Requests carry unique code ``D0EA83FC``, responses and notifications ``D0F9EE5D``.
  Sources: ROHM "BP35C0-J11 UART IF specification" (No. 63TR008E) as summarised by
  broute-j11 0.1.0 ``codec.py`` (MIT, written against hardware); the same layout in
  regreh/m5stickc_bp35c0-j11 (BP35C0-J11-T01) and ak1211's BP35Cx-J11 Go client.
* Header checksum = byte sum of header bytes 0..7 (unique code, command code, message
  length) mod 0x10000; data checksum = byte sum of the data mod 0x10000. Proof beyond the
  documents: ak1211's hard-coded Get Version request has header checksum ``0x03A8``
  = D0+EA+83+FC+00+6B+00+04. Checksums do not cover each other.
* Largest frame 1361 bytes including the header (broute-j11, "specification section 3").
* Response command code = request code | 0x2000; notifications are 0x6xxx, the active-scan
  result 0x4051 (broute-j11, the BP35C0-J11 header of a public Arduino client).
* Table 34 reception errors: 0xF0 header checksum, 0xF1 data checksum, 0xF2 message shorter
  than the header claims, 0xF3 message length above the maximum, 0x13 data not complete
  within 1 second. *Uncertain*: which command code carries them. The simulator answers with
  the response code of the command code in the received header (``code | 0x2000``), data
  ``[result]``; a client that matches responses by code then sees its command fail.
* Bytes before a request unique code are skipped (resynchronisation); a frame whose header
  checksum fails is answered ``F0`` and the search resumes one byte later, so a false unique
  code inside garbage costs nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

REQUEST = 0xD0EA83FC
RESPONSE = 0xD0F9EE5D
REQUEST_BYTES = REQUEST.to_bytes(4, "big")
HEADER = 12
LENGTH_OVERHEAD = 4
MAX_FRAME = 1361
MAX_DATA = MAX_FRAME - HEADER
RESPONSE_FLAG = 0x2000
#: A request whose data has not fully arrived this long after its header is dropped (0x13).
RECEIVE_TIMEOUT_S = 1.0

# Response results (Table 34, via broute-j11 commands.RESPONSE_RESULTS).
OK = 0x01
BAD_COMMAND = 0x03
BAD_PARAMETER = 0x04
PORT_ALREADY_OPEN = 0x0A
PORT_NOT_OPEN = 0x0B
MAC_CONNECT_FAILED = 0x0E
NOT_STARTED = 0x10
BAD_LENGTH = 0x11
TOO_MANY_PORTS = 0x12
RECEIVE_TIMEOUT = 0x13
BAD_MODE = 0x14
ROUTE_B_RUNNING = 0x34
ROUTE_B_AUTHENTICATING = 0x35
PANA_NOT_READY = 0x51
PANA_BUSY = 0x52
CREDENTIALS_SET = 0x58
HEADER_CHECKSUM = 0xF0
DATA_CHECKSUM = 0xF1
TOO_SHORT = 0xF2
TOO_LONG = 0xF3


def checksum(data: bytes) -> int:
    """Byte sum mod 0x10000 (both J11 checksums)."""
    return sum(data) & 0xFFFF


def encode(code: int, data: bytes = b"", unique: int = RESPONSE) -> bytes:
    """One frame (the adapter's unique code unless told otherwise)."""
    if len(data) > MAX_DATA:
        raise ValueError(f"J11 data of {len(data)} bytes exceeds {MAX_DATA}")
    head = unique.to_bytes(4, "big") + code.to_bytes(2, "big") + (len(data) + LENGTH_OVERHEAD).to_bytes(2, "big")
    return head + checksum(head).to_bytes(2, "big") + checksum(data).to_bytes(2, "big") + data


def request(code: int, data: bytes = b"") -> bytes:
    """A host request (tests)."""
    return encode(code, data, REQUEST)


@dataclass(frozen=True)
class Request:
    """A well-formed host request."""

    code: int
    data: bytes


@dataclass(frozen=True)
class Refused:
    """A request the framing refused: answer ``code | 0x2000`` with ``[result]``."""

    code: int
    result: int


def decode(raw: bytes) -> tuple[int, int, bytes]:
    """``(unique code, command code, data)`` of exactly one frame; ``ValueError`` otherwise (tests)."""
    if len(raw) < HEADER:
        raise ValueError("shorter than a J11 header")
    length = int.from_bytes(raw[6:8], "big")
    if checksum(raw[:8]) != int.from_bytes(raw[8:10], "big"):
        raise ValueError("header checksum")
    data = raw[HEADER : 8 + length]
    if len(raw) != 8 + length or checksum(data) != int.from_bytes(raw[10:12], "big"):
        raise ValueError("length or data checksum")
    return int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:6], "big"), data


def split(stream: bytes) -> list[tuple[int, bytes]]:
    """Every adapter frame in ``stream`` as ``(code, data)`` (tests; raises on a bad frame)."""
    out, rest = [], stream
    while rest:
        start = rest.find(RESPONSE.to_bytes(4, "big"))
        if start < 0:
            break
        rest = rest[start:]
        total = 8 + int.from_bytes(rest[6:8], "big")
        _, code, data = decode(rest[:total])
        out.append((code, data))
        rest = rest[total:]
    return out


class RequestReader:
    """Host bytes → :class:`Request` / :class:`Refused`, resynchronising on the unique code."""

    def __init__(self) -> None:
        self._buf = bytearray()
        #: When the frame now buffered started arriving (None when nothing is pending).
        self._since: float | None = None
        #: Bytes skipped while looking for a unique code.
        self.skipped = 0

    def feed(self, data: bytes, now: float) -> list[Request | Refused]:
        out = self.expire(now)
        self._buf += data
        while True:
            start = self._buf.find(REQUEST_BYTES)
            if start < 0:
                keep = 3  # a unique code may be split across reads
                drop = max(len(self._buf) - keep, 0)
                self.skipped += drop
                del self._buf[:drop]
                self._since = None
                return out
            self.skipped += start
            del self._buf[:start]
            if len(self._buf) < HEADER:
                self._since = now if self._since is None else self._since
                return out
            code = int.from_bytes(self._buf[4:6], "big")
            length = int.from_bytes(self._buf[6:8], "big")
            if checksum(self._buf[:8]) != int.from_bytes(self._buf[8:10], "big"):
                out.append(Refused(code, HEADER_CHECKSUM))
                self._skip(1)
                continue
            if length > MAX_DATA + LENGTH_OVERHEAD:
                out.append(Refused(code, TOO_LONG))
                self._skip(HEADER)
                continue
            if length < LENGTH_OVERHEAD:
                out.append(Refused(code, TOO_SHORT))
                self._skip(HEADER)
                continue
            total = 8 + length
            if len(self._buf) < total:
                self._since = now if self._since is None else self._since
                return out
            payload = bytes(self._buf[HEADER:total])
            data_sum = int.from_bytes(self._buf[10:12], "big")
            del self._buf[:total]
            self._since = None
            out.append(Request(code, payload) if checksum(payload) == data_sum else Refused(code, DATA_CHECKSUM))

    def _skip(self, count: int) -> None:
        self.skipped += count
        del self._buf[:count]
        self._since = None

    def expire(self, now: float) -> list[Request | Refused]:
        """A request whose data stopped arriving for RECEIVE_TIMEOUT_S is dropped with 0x13."""
        if self._since is None or now - self._since < RECEIVE_TIMEOUT_S or len(self._buf) < HEADER:
            return []
        code = int.from_bytes(self._buf[4:6], "big")
        self._skip(HEADER)
        return [Refused(code, RECEIVE_TIMEOUT)]

    def deadline(self) -> float | None:
        """When a partly received request times out, if one is pending."""
        if self._since is None or len(self._buf) < HEADER:
            return None
        return self._since + RECEIVE_TIMEOUT_S
