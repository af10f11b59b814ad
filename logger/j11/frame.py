"""J11 frames: the binary envelope of ROHM's J11 UART command set (sans-I/O).

Wire format (all fields big-endian)::

    offset  size  field
    0       4     unique code   D0EA83FC host → adapter (request)
                                D0F9EE5D adapter → host (response, notification)
    4       2     command code
    6       2     message length = 4 + len(data)   (it counts the two checksums, not the header's first 8 bytes)
    8       2     header checksum = sum(bytes 0..7) mod 0x10000   (unique code, command code, message length)
    10      2     data checksum   = sum(data) mod 0x10000        (0 when there is no data)
    12      n     data

Where each fact comes from:

* Both unique codes, the field order, ``message length = 4 + data`` and the two byte sums: ROHM's J11
  UART IF command specification (§2, "command format"), as quoted by broute-j11 0.1.0
  (``codec.py``: header sum over bytes 0..8 exclusive, data sum over the data alone) and by two other
  hardware clients read for cross-checking (ak1211/smartmeter-route-b-app ``J11StackUartCommand.purs``,
  regreh/m5stickc_bp35c0-j11). Their constant frames agree with this rule byte for byte, e.g. Get
  Version ``D0EA83FC 006B 0004 03A8 0000`` (``tests/test_j11_frame.py`` checks them).
* The size limit — a whole frame of at most 1361 bytes (header included): the specification as
  broute-j11 cites it (§3). Uncertain: whether the limit differs between directions. This parser
  applies it to both (a larger frame is rejected as ``bad length``).
* Response codes are the request code | 0x2000, notifications 0x6xxx, the scan result 0x4051: as
  broute-j11 and ak1211 decode them. Codes 0x2FFF / 0xFFFF (the adapter refusing a request frame's
  header checksum / command code) come from ak1211 only: uncertain.

:class:`J11Parser` never raises: bytes that are not part of a frame are reported as
:class:`Garbage` with a reason (``noise``, ``bad header checksum``, ``bad length``,
``bad data checksum``), counted, and the parser resynchronises on the next unique code. A
rejected header or body is rescanned from its second byte, so a real frame hidden inside the
claimed body of a corrupt one is still found. The buffer is bounded (one frame plus one slice).
"""

from __future__ import annotations

from dataclasses import dataclass, field

REQUEST_CODE = 0xD0EA83FC
RESPONSE_CODE = 0xD0F9EE5D
HEADER_LEN = 12
CHECKSUMS_LEN = 4  # the part of the header the message length counts
MAX_FRAME = 1361
MAX_DATA = MAX_FRAME - HEADER_LEN  # 1349
MAX_MESSAGE_LENGTH = MAX_DATA + CHECKSUMS_LEN  # 1353

#: Command codes whose data carries secrets (the B-route ID and password; the scan's Pairing ID,
#: the last 8 characters of the ID): their data is never shown in a repr.
SECRET_COMMANDS = frozenset({0x0054, 0x0051})

#: Input is taken in slices of this size, so the buffer never holds more than a frame plus a slice.
_SLICE = 4096
#: Bytes of rejected input kept in a Garbage event (for a hex dump); the size counts all of them.
_SAMPLE = 64

_REASONS = ("noise", "bad header checksum", "bad length", "bad data checksum")


class FrameError(ValueError):
    """A frame that cannot be encoded (command code or data out of range)."""


def checksum(data: bytes) -> int:
    """The J11 checksum: the byte sum modulo 0x10000."""
    return sum(data) & 0xFFFF


@dataclass(frozen=True, slots=True)
class Frame:
    """One whole, checksum-verified J11 frame. ``unique`` tells the direction."""

    command: int
    data: bytes = b""
    unique: int = RESPONSE_CODE

    @property
    def is_request(self) -> bool:
        return self.unique == REQUEST_CODE

    @property
    def is_response(self) -> bool:
        """An answer to a request (0x2xxx, the request code with bit 13 set)."""
        return self.unique == RESPONSE_CODE and self.command & 0xF000 == 0x2000

    @property
    def is_notification(self) -> bool:
        """Sent by the adapter on its own: 0x6xxx, and the per-channel scan result 0x4051."""
        return self.unique == RESPONSE_CODE and self.command & 0xF000 in (0x4000, 0x6000)

    def encode(self) -> bytes:
        return encode_frame(self.command, self.data, self.unique)

    def __repr__(self) -> str:
        kind = "req" if self.is_request else "J11"
        if self.is_request and self.command in SECRET_COMMANDS and self.data:
            shown = f"<{len(self.data)} bytes masked>"
        else:
            shown = self.data.hex(" ").upper() if self.data else "-"
        return f"{kind} {self.command:04X} {shown}"


@dataclass(frozen=True, slots=True)
class Garbage:
    """Input that was not part of a valid frame: ``size`` bytes dropped because of ``reason``.

    ``sample`` holds the first bytes (at most 64) for a hex dump; it stays out of the repr, since
    a corrupted request frame (replayed host side) may carry credentials.
    """

    reason: str
    size: int
    sample: bytes = field(default=b"", repr=False)


J11Event = Frame | Garbage


def encode_frame(command: int, data: bytes = b"", unique: int = REQUEST_CODE) -> bytes:
    """The bytes of one frame; both checksums computed. Raises :class:`FrameError` on bad input."""
    if unique not in (REQUEST_CODE, RESPONSE_CODE):
        raise FrameError(f"unique code {unique:#010x} is neither the request nor the response code")
    if not 0 <= command <= 0xFFFF:
        raise FrameError(f"command code {command!r} does not fit in 2 bytes")
    data = bytes(data)
    if len(data) > MAX_DATA:
        raise FrameError(f"data of {len(data)} bytes exceeds the {MAX_DATA}-byte limit of a J11 frame")
    head = unique.to_bytes(4, "big") + command.to_bytes(2, "big") + (len(data) + CHECKSUMS_LEN).to_bytes(2, "big")
    return head + checksum(head).to_bytes(2, "big") + checksum(data).to_bytes(2, "big") + data


def encode_request(command: int, data: bytes = b"") -> bytes:
    """A host → adapter frame (unique code D0EA83FC)."""
    return encode_frame(command, data, REQUEST_CODE)


def decode_frame(raw: bytes) -> Frame:
    """Exactly one whole frame (either direction) → :class:`Frame`; anything else → :class:`FrameError`."""
    raw = bytes(raw)
    for unique in (RESPONSE_CODE, REQUEST_CODE):
        if raw[:4] == unique.to_bytes(4, "big"):
            events = J11Parser(unique).feed(raw)
            break
    else:
        raise FrameError("not a J11 frame: no unique code at the start")
    if len(events) == 1 and isinstance(events[0], Frame) and len(raw) == HEADER_LEN + len(events[0].data):
        return events[0]
    reasons = sorted({e.reason for e in events if isinstance(e, Garbage)}) or ["incomplete frame"]
    raise FrameError("not one whole J11 frame: " + ", ".join(reasons))


class J11Parser:
    """Incremental frame parser: ``feed(bytes) -> list[Frame | Garbage]``; never raises.

    ``unique`` is the code to synchronise on: :data:`RESPONSE_CODE` (the default) for what the
    adapter sends, :data:`REQUEST_CODE` to read the host's side (a transcript, the simulator).
    Frames come out in input order whatever the split of the input into reads.
    """

    def __init__(self, unique: int = RESPONSE_CODE) -> None:
        if unique not in (REQUEST_CODE, RESPONSE_CODE):
            raise FrameError(f"unique code {unique:#010x} is neither the request nor the response code")
        self.unique = unique
        self._code = unique.to_bytes(4, "big")
        self._buf = bytearray()
        self._noise = 0  # noise bytes dropped but not yet reported
        self._noise_sample = bytearray()
        #: Frames parsed; Garbage events emitted; bytes dropped, by reason.
        self.frames = 0
        self.dropped = 0
        self.dropped_bytes: dict[str, int] = dict.fromkeys(_REASONS, 0)

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame (at most a frame plus one input slice)."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget buffered bytes (after the port was reopened or the adapter reset)."""
        self._buf.clear()
        self._noise = 0
        self._noise_sample.clear()

    def feed(self, data: bytes) -> list[J11Event]:
        """Add bytes from the wire; return the frames (and garbage reports) they complete."""
        out: list[J11Event] = []
        view = memoryview(bytes(data))
        for start in range(0, len(view), _SLICE):
            self._buf += view[start:start + _SLICE]
            self._drain(out)
        self._flush_noise(out)
        return out

    # ----------------------------------------------------------------- internals

    def _drain(self, out: list[J11Event]) -> None:
        buf = self._buf
        while True:
            at = buf.find(self._code)
            if at < 0:
                self._drop_noise(len(buf) - self._kept_prefix())
                return
            if at:
                self._drop_noise(at)
            if len(buf) < HEADER_LEN:
                return
            if checksum(buf[:8]) != int.from_bytes(buf[8:10], "big"):
                self._reject("bad header checksum", HEADER_LEN, out)
                continue
            length = int.from_bytes(buf[6:8], "big")
            if not CHECKSUMS_LEN <= length <= MAX_MESSAGE_LENGTH:
                self._reject("bad length", HEADER_LEN, out)
                continue
            total = 8 + length
            if len(buf) < total:
                return
            body = bytes(buf[HEADER_LEN:total])
            if checksum(body) != int.from_bytes(buf[10:12], "big"):
                self._reject("bad data checksum", total, out)
                continue
            self._flush_noise(out)
            out.append(Frame(int.from_bytes(buf[4:6], "big"), body, self.unique))
            self.frames += 1
            del buf[:total]

    def _kept_prefix(self) -> int:
        """Length of the longest tail of the buffer that could start a unique code."""
        for n in (3, 2, 1):
            if len(self._buf) >= n and self._buf[-n:] == self._code[:n]:
                return n
        return 0

    def _drop_noise(self, n: int) -> None:
        if n <= 0:
            return
        room = _SAMPLE - len(self._noise_sample)
        if room > 0:
            self._noise_sample += self._buf[:min(n, room)]
        self._noise += n
        del self._buf[:n]

    def _flush_noise(self, out: list[J11Event]) -> None:
        if self._noise:
            self._emit(out, "noise", self._noise, bytes(self._noise_sample))
            self._noise = 0
            self._noise_sample.clear()

    def _reject(self, reason: str, span: int, out: list[J11Event]) -> None:
        """Drop a rejected frame start: up to the next unique code inside ``span``, else all of it.

        Rescanning from the second byte means a real frame inside a corrupt one's claimed body
        is not lost; the bytes skipped are all blamed on this one rejection.
        """
        self._flush_noise(out)
        nxt = self._buf.find(self._code, 1, span + len(self._code) - 1)
        n = span if nxt < 0 else nxt
        n = min(n, len(self._buf))
        self._emit(out, reason, n, bytes(self._buf[:min(n, _SAMPLE)]))
        del self._buf[:n]

    def _emit(self, out: list[J11Event], reason: str, size: int, sample: bytes) -> None:
        out.append(Garbage(reason, size, sample))
        self.dropped += 1
        self.dropped_bytes[reason] += size
