"""Builders for the J11 requests a B-route logger sends (bytes out; nothing sent, nothing waited).

Every builder validates its arguments and raises :class:`CommandError` naming the problem —
never the B-route ID, password or Pairing ID themselves (only a length or a position).

Data layouts (sources: ROHM J11 UART IF command specification as broute-j11 0.1.0 cites it;
cross-checked with ak1211/smartmeter-route-b-app and regreh/m5stickc_bp35c0-j11, which both
drive real adapters; "spec" below means that specification as quoted there):

====================  ======  ==============================================================
request               code    data
====================  ======  ==============================================================
firmware version      0x006B  (none)                                        spec §3.2.4.1
reset                 0x00D9  (none); answered by notification 0x6019      spec §3.2.4.2
initial settings      0x005F  mode(1) sleep(1) channel(1) tx power(1)     spec §3.2.2.1, Table 20/21
set B-route auth      0x0054  ID (32 ASCII) + password (12 ASCII)           spec §3.4.2.1
active scan           0x0051  duration(1) channel mask(4) pairing flag(1) pairing ID(8)  §3.2.3.4
start B-route         0x0053  (none); the response carries channel, PAN ID, MAC, RSSI  §3.4.3.1
open UDP port         0x0005  port(2)                                       spec §3.2.3.1
start PANA            0x0056  (none); result later in notification 0x6028  spec §3.4.3.2
end PANA              0x0057  (none)                                        spec §3.4.3.3
send data             0x0008  dest IPv6(16) src port(2) dst port(2) length(2) data  §3.2.3.3
====================  ======  ==============================================================

Values and uncertainties:

* Operating mode 0x05 ("dual": B-route plus HAN end device) is what all three hardware clients
  send for B-route; 0x01..0x03 are the HAN roles. No B-route-only value appears in what we read.
  Sleep 0x00 = off; transmit power 0x00 = 20 mW (0x01 10 mW, 0x02 1 mW).
* Channels 4..17 (0x04..0x11), mask bits 4..17 (all = 0x0003FFF0): spec Table 21 as broute-j11
  uses it. How J11 channel numbers map to SKSTACK's 33..60 is not stated in what we read.
* Scan duration 1..14, dwell 9.64 ms * 2**n per channel: broute-j11 (§3.2.3.4); hardware clients
  use 6..9. The pairing flag 0x01 + 8 ASCII characters makes the adapter report only that meter;
  with flag 0x00 broute-j11 sends 8 zero bytes (the field is always present: message length 0x12
  in ak1211's constant frame).
* Send data: at most 1232 bytes of UDP data (broute-j11's limit; the frame itself would allow 1327).
"""

from __future__ import annotations

from ipaddress import AddressValueError, IPv6Address

from logger.j11 import codes
from logger.j11.frame import encode_request
from logger.skstack.credentials import CredentialError, check_password, check_rbid

ECHONET_PORT = 0x0E1A  # 3610
MIN_CHANNEL, MAX_CHANNEL = 0x04, 0x11
ALL_CHANNELS = 0x0003FFF0
MIN_DURATION, MAX_DURATION = 1, 14
PAIRING_ID_LEN = 8
MAX_UDP_DATA = 1232

MODE_DUAL = 0x05  # B-route + HAN end device: what B-route clients send
MODES = {0x01: "HAN PAN coordinator", 0x02: "HAN coordinator", 0x03: "HAN end device", MODE_DUAL: "dual (B-route)"}
TX_POWERS = {0x00: "20 mW", 0x01: "10 mW", 0x02: "1 mW"}


class CommandError(ValueError):
    """A J11 request cannot be built: the message names the argument and the problem."""


def _int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandError(f"{what} must be an integer")
    if not low <= value <= high:
        raise CommandError(f"{what} must be {low}..{high} (0x{low:X}..0x{high:X}), got {value}")
    return value


def _port(value: object, what: str) -> int:
    return _int(value, what, 1, 0xFFFF)


# ----------------------------------------------------------------- local commands

def version() -> bytes:
    """Firmware version (0x006B); the answer is 0x206B with result, firmware ID and version."""
    return encode_request(codes.GET_VERSION)


def reset() -> bytes:
    """Reset (0x00D9); the adapter restarts and sends 0x6019 when it is ready (no 0x20D9 seen)."""
    return encode_request(codes.RESET)


def initial_settings(channel: int, *, mode: int = MODE_DUAL, sleep: bool = False, tx_power: int = 0x00) -> bytes:
    """Initial settings (0x005F): operating mode, HAN sleep, channel, transmit power."""
    _int(channel, "channel", MIN_CHANNEL, MAX_CHANNEL)
    if mode not in MODES:
        raise CommandError(f"operating mode must be one of {', '.join(f'0x{m:02X}' for m in MODES)}, got {mode!r}")
    if not isinstance(sleep, bool):
        raise CommandError("sleep must be True or False")
    if tx_power not in TX_POWERS:
        raise CommandError(f"transmit power must be 0x00 (20 mW), 0x01 (10 mW) or 0x02 (1 mW), got {tx_power!r}")
    return encode_request(codes.INITIAL_SETTINGS, bytes([mode, int(sleep), channel, tx_power]))


def set_broute_auth(rbid: str, password: str) -> bytes:
    """Set the B-route ID and password (0x0054): 32 + 12 ASCII characters, the project's one rule."""
    try:
        rbid = check_rbid(rbid)
        password = check_password(password)
    except CredentialError as exc:  # its message never holds the value
        raise CommandError(str(exc)) from None
    return encode_request(codes.SET_BROUTE_AUTH, rbid.encode("ascii") + password.encode("ascii"))


def pairing_id(rbid: str) -> str:
    """The Pairing ID of a meter: the last 8 characters of its B-route ID."""
    try:
        return check_rbid(rbid)[-PAIRING_ID_LEN:]
    except CredentialError as exc:
        raise CommandError(str(exc)) from None


def _pairing_bytes(pid: str | None) -> bytes:
    if pid is None:
        return bytes([0x00]) + bytes(PAIRING_ID_LEN)
    if not isinstance(pid, str):
        raise CommandError("Pairing ID must be text (the last 8 characters of the B-route ID)")
    if len(pid) != PAIRING_ID_LEN:
        raise CommandError(f"Pairing ID must be exactly {PAIRING_ID_LEN} characters (got {len(pid)});"
                           " it is the last 8 characters of the B-route ID")
    for pos, ch in enumerate(pid, 1):
        if not (ch.isascii() and ch.isalnum()):
            raise CommandError(f"Pairing ID must contain only letters and digits (position {pos} is not one)")
    return bytes([0x01]) + pid.encode("ascii")


def active_scan(duration: int, mask: int = ALL_CHANNELS, pairing: str | None = None) -> bytes:
    """Active scan (0x0051). ``pairing``: the Pairing ID the adapter filters beacons by (or None).

    The adapter sends one 0x4051 per channel scanned, then answers 0x2051 when it is done.
    """
    _int(duration, "scan duration", MIN_DURATION, MAX_DURATION)
    _int(mask, "channel mask", 0, 0xFFFFFFFF)
    if mask == 0 or mask & ~ALL_CHANNELS:
        raise CommandError(f"channel mask must select channels 4..17 only (bits within 0x{ALL_CHANNELS:08X}),"
                           f" got 0x{mask:08X}")
    return encode_request(codes.ACTIVE_SCAN, bytes([duration]) + mask.to_bytes(4, "big") + _pairing_bytes(pairing))


def channel_mask(*channels: int) -> int:
    """The scan mask for J11 channel numbers (4..17)."""
    mask = 0
    for ch in channels:
        mask |= 1 << _int(ch, "channel", MIN_CHANNEL, MAX_CHANNEL)
    return mask


# ----------------------------------------------------------------- B-route

def start_broute() -> bytes:
    """Start B-route (0x0053): join the PAN the last scan found; 0x2053 carries channel, PAN, MAC, RSSI."""
    return encode_request(codes.START_BROUTE)


def open_udp_port(port: int = ECHONET_PORT) -> bytes:
    """Open a UDP port (0x0005); ECHONET Lite uses 0x0E1A (3610)."""
    return encode_request(codes.OPEN_UDP_PORT, _port(port, "UDP port").to_bytes(2, "big"))


def start_pana() -> bytes:
    """Start PANA (0x0056); 0x2056 accepts it, notification 0x6028 gives the result."""
    return encode_request(codes.START_PANA)


def end_pana() -> bytes:
    """End PANA (0x0057)."""
    return encode_request(codes.END_PANA)


def _address(dest: IPv6Address | str | bytes) -> bytes:
    if isinstance(dest, (bytes, bytearray)):
        if len(dest) != 16:
            raise CommandError(f"destination address must be 16 bytes (got {len(dest)})")
        return bytes(dest)
    try:
        return IPv6Address(dest).packed
    except (AddressValueError, ValueError, TypeError):
        raise CommandError("destination is not an IPv6 address") from None


def send_data(dest: IPv6Address | str | bytes, data: bytes, *, src_port: int = ECHONET_PORT,
              dst_port: int = ECHONET_PORT) -> bytes:
    """Send UDP data (0x0008) to ``dest`` (the meter's link-local address)."""
    address = _address(dest)
    if not isinstance(data, (bytes, bytearray)):
        raise CommandError("UDP data must be bytes")
    if not 1 <= len(data) <= MAX_UDP_DATA:
        raise CommandError(f"UDP data must be 1..{MAX_UDP_DATA} bytes (got {len(data)})")
    body = (address + _port(src_port, "source port").to_bytes(2, "big")
            + _port(dst_port, "destination port").to_bytes(2, "big") + len(data).to_bytes(2, "big") + bytes(data))
    return encode_request(codes.SEND_DATA, body)


def link_local(mac: bytes) -> IPv6Address:
    """The link-local address of a MAC the adapter reports: FE80::/64 + MAC with the U/L bit flipped.

    The standard EUI-64 → interface-ID rule; broute-j11 and regreh address the meter this way.
    """
    if len(mac) != 8:
        raise CommandError(f"MAC address must be 8 bytes (got {len(mac)})")
    return IPv6Address(b"\xfe\x80" + bytes(6) + bytes([mac[0] ^ 0x02]) + bytes(mac[1:]))
