"""Fixed facts of the SKSTACK-IP wire and the B-route radio that every simulator module shares.

One place for the numbers (the facts sheet, sections 1, 2 and 4); the modules that print
or parse a line import them from here.
"""

from __future__ import annotations

import re

CRLF = b"\r\n"

#: Multicast destination of the meter's instance-list INF after PANA success.
ALL_NODES = "FF02:0000:0000:0000:0000:0000:0000:0001"

ECHONET_PORT = 0x0E1A
PANA_PORT = 0x02CC

#: Logical channels 0x21..0x3C (33..60); SKSCAN mask bit ``i`` is channel ``FIRST_CHANNEL + i``.
FIRST_CHANNEL = 0x21
CHANNELS = 28
LAST_CHANNEL = FIRST_CHANNEL + CHANNELS - 1

#: A host line longer than this without a line end is discarded with ``FAIL ER09``.
MAX_LINE = 2048

#: Scan dwell per channel at DURATION d: 9.6 ms x (2**d + 1).
SCAN_SLOT_S = 0.0096

IPV6 = re.compile(r"^[0-9A-Fa-f]{4}(:[0-9A-Fa-f]{4}){7}$")
HEX = re.compile(r"^[0-9A-Fa-f]+$")


def ll64(addr64: str) -> str:
    """EUI-64 → link-local IPv6 text (U/L bit flipped, 8 groups of 4 upper-case hex digits)."""
    value = int(addr64, 16) ^ (0x02 << 56)
    text = f"{value:016X}"
    groups = ["FE80", "0000", "0000", "0000"] + [text[i : i + 4] for i in range(0, 16, 4)]
    return ":".join(groups)


def scan_dwell_s(duration: int) -> float:
    """Per-channel active-scan time at DURATION ``duration``: 9.6 ms x (2**duration + 1)."""
    return SCAN_SLOT_S * (2**duration + 1)


def is_eui64(text: str) -> bool:
    """16 hex digits."""
    return len(text) == 16 and bool(HEX.match(text))
