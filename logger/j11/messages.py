"""Typed decoding of what a J11 adapter sends: :func:`decode` ``(Frame) -> message``; never raises.

Data layouts (offsets in the frame's data; sources as in :mod:`logger.j11.codes`):

* Every response (0x2xxx): result(1) first; 0x01 = success. On failure the rest is absent.
* 0x206B version: result, firmware ID(2), major(1), minor(1), revision(4) — broute-j11 and ak1211.
* 0x2053 start B-route: result, channel(1), PAN ID(2), MAC(8), RSSI(1) — broute-j11 and ak1211.
* 0x2008 send data: result, then one byte: high nibble 1 = queued for indirect send, low nibble
  the transmission result (0 sent, 5 no ACK) — broute-j11; regreh reads the same byte.
* 0x4051 scan result (one per channel): scan result(1) (0x00 beacons heard, 0x01 none), channel(1),
  then when heard count(1) and per PAN: MAC(8), PAN ID(2), RSSI(1) — broute-j11, ak1211, regreh.
  Uncertain: whether an adapter that filters by Pairing ID appends the Pairing ID (8 ASCII) to each
  entry. None of the hardware clients reads one; this decoder accepts 19-byte entries (the 11 above
  + Pairing ID) when the data length says so, and reports ``pairing_id=None`` for 11-byte ones.
* 0x6018 data received: source IPv6(16), source port(2), destination port(2), source PAN ID(2),
  destination type(1) (0x01 multicast), security(1) (0x02 encrypted), RSSI(1), length(2), data —
  broute-j11 and ak1211 (both 27 bytes of header).
* 0x6019 start-up finished: no field needed (any data is kept raw) — regreh and broute-j11 wait for
  the code only.
* 0x601A connection status: status(1), MAC(8), RSSI(1) — broute-j11 only: uncertain.
* 0x6028 PANA result: result(1) (0x01 success, 0x02 rejected, 0x03 no answer), MAC(8) — all three.
* 0x6038 receive failure: reason(1), source IPv6(16), sequence(1), fragment flag(1) (0x00 = a
  fragment), fragment tag(2) — broute-j11 only: uncertain.
* RSSI bytes are read as signed dBm (int8, as ak1211 does; broute-j11 subtracts 256, which agrees
  for every real, negative reading).

A frame too short for its layout becomes :class:`Malformed` (with the reason), a code this module
does not know :class:`Other`; both keep the frame for a hex dump.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv6Address

from logger.j11 import codes
from logger.j11.frame import Frame


def _rssi(raw: int) -> int:
    return raw - 256 if raw >= 0x80 else raw


def _mac(raw: bytes) -> str:
    return raw.hex().upper()


@dataclass(frozen=True, slots=True)
class Result:
    """A response carrying only its result (or a failed response of any command)."""

    command: int  # the response code (0x2xxx)
    code: int

    @property
    def ok(self) -> bool:
        return self.code == codes.SUCCESS

    @property
    def cause(self) -> str:
        return codes.describe_result(self.code)

    def __str__(self) -> str:
        return f"{codes.describe_command(self.command)}: {self.cause}"


@dataclass(frozen=True, slots=True)
class Version:
    """The J11 firmware version (answer to a version request)."""

    firmware_id: int
    major: int
    minor: int
    revision: int
    ok: bool = True

    @property
    def text(self) -> str:
        return f"{self.major}.{self.minor}.{self.revision}"

    def __str__(self) -> str:
        return f"J11 firmware {self.text} (ID 0x{self.firmware_id:04X})"


@dataclass(frozen=True, slots=True)
class BrouteStarted:
    """The J11 joined the meter's PAN: its channel, PAN ID, MAC address and signal strength."""

    channel: int
    pan_id: int
    mac: str  # 16 upper-case hex digits
    rssi: int
    ok: bool = True

    def __str__(self) -> str:
        return f"B-route started: channel {self.channel} PAN {self.pan_id:04X} MAC {self.mac} RSSI {self.rssi} dBm"


@dataclass(frozen=True, slots=True)
class SendResult:
    """Whether the J11 queued a UDP frame, and how its transmission went."""

    queued: bool
    tx: int  # transmission result nibble

    @property
    def ok(self) -> bool:
        return self.tx == codes.TX_SENT

    def __str__(self) -> str:
        return "send data: " + ("queued" if self.queued else codes.describe_tx(self.tx))


@dataclass(frozen=True, slots=True)
class Pan:
    """One PAN heard in an active scan."""

    channel: int
    pan_id: int
    mac: str
    rssi: int
    pairing_id: str | None = field(default=None, repr=False)  # equals the end of a B-route ID


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One channel of an active scan: the PANs heard there (none if the channel was quiet)."""

    channel: int
    pans: tuple[Pan, ...] = ()

    def __str__(self) -> str:
        if not self.pans:
            return f"scan channel {self.channel}: no beacon"
        return f"scan channel {self.channel}: " + ", ".join(
            f"PAN {p.pan_id:04X} MAC {p.mac} RSSI {p.rssi}" for p in self.pans)


@dataclass(frozen=True, slots=True)
class Received:
    """UDP data from the meter (0x6018)."""

    source: IPv6Address
    src_port: int
    dst_port: int
    pan_id: int
    multicast: bool
    encrypted: bool
    rssi: int
    data: bytes

    def __str__(self) -> str:
        return (f"received {len(self.data)} bytes from [{self.source}]:{self.src_port} to port {self.dst_port}"
                f" RSSI {self.rssi}{' encrypted' if self.encrypted else ''}")


@dataclass(frozen=True, slots=True)
class Started:
    """The adapter finished starting (after reset or power-on, 0x6019)."""

    data: bytes = b""

    def __str__(self) -> str:
        return "adapter started"


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """The J11's connection state, with the meter's MAC address and the signal strength."""

    status: int
    mac: str
    rssi: int

    @property
    def connected(self) -> bool:
        return self.status in (codes.MAC_CONNECTED, codes.PANA_CONNECTED)

    def __str__(self) -> str:
        return f"connection: {codes.CONNECTION_STATES.get(self.status, f'status 0x{self.status:02X}')} MAC {self.mac}"


@dataclass(frozen=True, slots=True)
class PanaResult:
    """How PANA authentication ended (notification from the J11)."""

    code: int
    mac: str

    @property
    def ok(self) -> bool:
        return self.code == codes.PANA_SUCCESS

    @property
    def outcome(self) -> str:
        """``success``, ``rejected``, ``no answer`` or ``unknown``."""
        return {codes.PANA_SUCCESS: "success", codes.PANA_REJECTED: "rejected",
                codes.PANA_NO_ANSWER: "no answer"}.get(self.code, "unknown")

    def __str__(self) -> str:
        text = codes.PANA_RESULTS.get(self.code, f"unknown PANA result 0x{self.code:02X}")
        return f"PANA {text}"


@dataclass(frozen=True, slots=True)
class ReceiveFailure:
    """The J11 dropped a frame it received, and why."""

    reason: int
    source: IPv6Address
    sequence: int
    fragmented: bool
    fragment_tag: int

    def __str__(self) -> str:
        why = codes.RECEIVE_FAILURES.get(self.reason, f"reason 0x{self.reason:02X}")
        return f"receive failure from [{self.source}]: {why}"


@dataclass(frozen=True, slots=True)
class Rejected:
    """The adapter refused a request frame itself (0x2FFF header checksum, 0xFFFF command code)."""

    command: int
    data: bytes = b""

    def __str__(self) -> str:
        what = "bad header checksum" if self.command == codes.REJECTED_HEADER else "unknown command code"
        return f"the adapter rejected a request frame: {what}"


@dataclass(frozen=True, slots=True)
class Malformed:
    """A J11 frame whose payload does not fit its command (the reason says how)."""

    frame: Frame
    reason: str

    def __str__(self) -> str:
        return f"{codes.describe_command(self.frame.command)}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Other:
    """A frame with a command code this module does not decode (kept whole)."""

    frame: Frame

    def __str__(self) -> str:
        return f"{codes.describe_command(self.frame.command)} ({len(self.frame.data)} bytes, not decoded)"


Message = (Result | Version | BrouteStarted | SendResult | ScanResult | Received | Started | ConnectionStatus
           | PanaResult | ReceiveFailure | Rejected | Malformed | Other)


class _Short(Exception):
    pass


def _need(data: bytes, n: int, what: str) -> bytes:
    if len(data) < n:
        raise _Short(f"{len(data)} bytes of data, {what} needs {n}")
    return data


def decode(frame: Frame) -> Message:
    """Decode one frame from the adapter; never raises."""
    handler = _NOTIFICATIONS.get(frame.command)
    try:
        if handler is not None:
            return handler(frame.data)
        if frame.command in (codes.REJECTED_HEADER, codes.REJECTED_COMMAND):
            return Rejected(frame.command, frame.data)
        if frame.command & 0xF000 == codes.RESPONSE_FLAG:
            return _response(frame)
    except _Short as exc:
        return Malformed(frame, str(exc))
    return Other(frame)


def _response(frame: Frame) -> Message:
    data = _need(frame.data, 1, "a result")
    result = Result(frame.command, data[0])
    if not result.ok:
        return result
    request = codes.request_of(frame.command)
    if request == codes.GET_VERSION:
        _need(data, 9, "a version")
        return Version(int.from_bytes(data[1:3], "big"), data[3], data[4], int.from_bytes(data[5:9], "big"))
    if request == codes.START_BROUTE:
        _need(data, 13, "a B-route start")
        return BrouteStarted(data[1], int.from_bytes(data[2:4], "big"), _mac(data[4:12]), _rssi(data[12]))
    if request == codes.SEND_DATA:
        _need(data, 2, "a transmission result")
        return SendResult(queued=data[1] >> 4 == 1, tx=data[1] & 0x0F)
    return result


def _scan(data: bytes) -> ScanResult:
    _need(data, 2, "a scan result")
    if data[0] == 0x01:
        return ScanResult(data[1])
    if data[0] != 0x00:
        raise _Short(f"scan result byte 0x{data[0]:02X} is neither 0x00 (heard) nor 0x01 (quiet)")
    count = _need(data, 3, "a beacon count")[2]
    body = len(data) - 3
    if count and body == count * 19:
        size = 19
    elif body == count * 11:
        size = 11
    else:
        raise _Short(f"{body} bytes cannot hold {count} PAN entries of 11 or 19 bytes")
    pans = []
    for off in range(3, 3 + count * size, size):
        pid = data[off + 11:off + 19].decode("ascii", "replace") if size == 19 else None
        pans.append(Pan(data[1], int.from_bytes(data[off + 8:off + 10], "big"), _mac(data[off:off + 8]),
                        _rssi(data[off + 10]), pid))
    return ScanResult(data[1], tuple(pans))


def _received(data: bytes) -> Received:
    _need(data, 27, "a UDP header")
    size = int.from_bytes(data[25:27], "big")
    if len(data) - 27 != size:
        raise _Short(f"UDP length says {size} bytes, the frame carries {len(data) - 27}")
    return Received(IPv6Address(data[0:16]), int.from_bytes(data[16:18], "big"), int.from_bytes(data[18:20], "big"),
                    int.from_bytes(data[20:22], "big"), data[22] == 0x01, data[23] == 0x02, _rssi(data[24]),
                    bytes(data[27:]))


def _connection(data: bytes) -> ConnectionStatus:
    _need(data, 10, "a connection status")
    return ConnectionStatus(data[0], _mac(data[1:9]), _rssi(data[9]))


def _pana(data: bytes) -> PanaResult:
    _need(data, 9, "a PANA result")
    return PanaResult(data[0], _mac(data[1:9]))


def _rx_failure(data: bytes) -> ReceiveFailure:
    _need(data, 21, "a receive failure")
    return ReceiveFailure(data[0], IPv6Address(data[1:17]), data[17], data[18] == 0x00,
                          int.from_bytes(data[19:21], "big"))


_NOTIFICATIONS = {
    codes.SCAN_RESULT: _scan,
    codes.RECEIVED: _received,
    codes.STARTED: lambda data: Started(bytes(data)),
    codes.CONNECTION_STATUS: _connection,
    codes.PANA_RESULT: _pana,
    codes.RECEIVE_FAILED: _rx_failure,
}
