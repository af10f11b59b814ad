"""A scripted SKSTACK-IP dongle for tests that feed the link or the session by hand.

It answers each command with the bytes a single-stack dongle prints (through the real parser on
the other side): beacons per channel for SKSCAN, EVENT 25 or 24 for SKJOIN, EVENT 21 + OK for
SKSENDTO, OK for the rest; ``answer`` overrides any command. No simulator, no time of its own.
"""

from __future__ import annotations

from collections.abc import Callable

RBID = "0123456789ABCDEF0123456789ABCDEF"
OWN_PAIR = RBID[-8:]
OWN_MAC, OWN_CH = "001C640003DD8257", 0x3B
ME = "FE80:0000:0000:0000:021D:1290:0004:0A11"


def epandesc(channel: int, pan: int, mac: str, lqi: int, pair: str | None) -> bytes:
    lines = [b"EVENT 20 FE80:0000:0000:0000:021D:1290:0004:0A11", b"EPANDESC", b"  Channel:%02X" % channel,
             b"  Channel Page:09", b"  Pan ID:%04X" % pan, b"  Addr:" + mac.encode(), b"  LQI:%02X" % lqi]
    if pair is not None:
        lines.append(b"  PairID:" + pair.encode())
    return b"\r\n".join(lines) + b"\r\n"


class ScriptedDongle:
    """A scripted single-stack dongle: ``beacons`` per channel; ``refuse`` = MACs that answer EVENT 24."""

    def __init__(self, beacons: dict[int, list[tuple[int, str, int, str | None]]], refuse: set[str] = frozenset(),
                 answer: Callable[[bytes], bytes] | None = None) -> None:
        self.beacons, self.refuse, self.answer = beacons, refuse, answer
        self.sent: list[bytes] = []
        self.s2 = 0

    def reply(self, data: bytes) -> bytes:
        self.sent.append(data)
        text = data.decode("ascii", "replace").strip()
        if self.answer is not None and (custom := self.answer(data)):
            return custom
        if text == "SKVER":
            return b"EVER 1.2.10\r\nOK\r\n"
        if text == "SKAPPVER":
            return b"EAPPVER rev26e\r\nOK\r\n"
        if text == "SKINFO":
            return b"EINFO %s 001D129000040A11 21 FFFF FFFE\r\nOK\r\n" % ME.encode()
        if text == "ROPT":
            return b"OK 01\r"
        if text.startswith("SKSCAN"):
            mask = int(text.split()[2], 16)
            out = b"OK\r\n"
            for bit in range(28):
                if mask >> bit & 1:
                    for pan, mac, lqi, pair in self.beacons.get(0x21 + bit, []):
                        out += epandesc(0x21 + bit, pan, mac, lqi, pair)
            return out + b"EVENT 22 FE80:0000:0000:0000:021D:1290:0004:0A11\r\n"
        if text.startswith("SKLL64"):
            mac = int(text.split()[1], 16) ^ (0x02 << 56)
            h = f"{mac:016X}"
            return ("FE80:0000:0000:0000:" + ":".join(h[i:i + 4] for i in range(0, 16, 4)) + "\r\n").encode()
        if text.startswith("SKJOIN"):
            target = text.split()[1].replace(":", "")[-16:]
            mac = f"{int(target, 16) ^ (0x02 << 56):016X}"
            return b"OK\r\n" + ((b"EVENT 24 %s\r\n" if mac in self.refuse else b"EVENT 25 %s\r\n") % ME.encode())
        return b"OK\r\n"


def neighbours(n: int = 3) -> dict[int, list]:
    """Louder neighbours on channels before the own meter's, and the own meter."""
    beacons = {0x21 + 2 * i: [(0x1000 + i, f"00AA0000000000{i:02X}", 0xF0 - i, f"{0xA0000000 + i:08X}")]
               for i in range(n)}
    beacons[OWN_CH] = [(0x8257, OWN_MAC, 0x80, OWN_PAIR)]
    return beacons
