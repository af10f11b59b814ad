"""Per-dialect output shapes of the simulated dongle (the facts sheet, section 1-2).

A :class:`Profile` says *what* a dongle family prints; :mod:`logger.simulate.dongle`
decides *when*. Everything here is pure formatting: text in, bytes out.

Families:

* ``bp35a1``      ROHM BP35A1, single stack (SS), ROHM product commands (WOPT/ROPT/WUART/RUART),
                  factory ERXUDP mode binary (``ROPT`` → ``OK 00``), ``SKTABLE E`` firmware quirk.
* ``rl7023-ips``  Tessera RL7023 Stick-D/IPS, SS, always hex ERXUDP, no ROHM commands
                  (``ROPT`` → ``FAIL ER04``); ``EINFO`` ends with a space (netlog capture).
* ``rl7023-dss``  Tessera RL7023 Stick-D/DSS, dual stack (DS), always hex, no ROHM commands.
* ``bp35c0``      ROHM BP35C0 / BP35C2 (alias ``bp35c2``), DS, ROHM commands, factory mode
                  hex 01 (the RS-WSUHA-P capture reported ``OK 01``).

Version strings: ``EVER 1.2.10`` / ``EAPPVER rev26e`` (BP35A1, smdn) and ``EVER 1.5.2``
(BP35C0) are from captures; the Tessera versions are illustrative placeholders, not
known firmware numbers.

Register sets: SS firmware knows S2 S3 S07 S0A S15 S16 S17 SA0 SA1 SFB SFD SFE SFF
(the BP35A1 command reference as mirrored by smdn). DS adds SA2 (RSSI/LQI in ERXUDP)
and SF0 (active MAC side). The single-stack BP35A1 and RL7023/IPS also accept SA2 but
their ERXUDP layout does not change (9 tokens, no LQI): momonga, verified on real
hardware of both families, writes ``SA2 1`` unconditionally and documents that
"BP35A1-family modules do not include the reception quality in ERXUDP", so the real
firmware takes the write. The Skyley "HAN extension" layout is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

CRLF = b"\r\n"

#: Multicast destination of the meter's instance-list INF after PANA success.
ALL_NODES = "FF02:0000:0000:0000:0000:0000:0000:0001"

#: Register numbers (``SKSREG S2`` = 0x02, ``SFE`` = 0xFE; ``S02`` and ``S2`` name the same one).
_SS_REGISTERS = frozenset({0x02, 0x03, 0x07, 0x0A, 0x15, 0x16, 0x17, 0xA0, 0xA1, 0xFB, 0xFD, 0xFE, 0xFF})


def ll64(addr64: str) -> str:
    """EUI-64 → link-local IPv6 text (U/L bit flipped, 8 groups of 4 upper-case hex digits)."""
    value = int(addr64, 16) ^ (0x02 << 56)
    text = f"{value:016X}"
    groups = ["FE80", "0000", "0000", "0000"] + [text[i : i + 4] for i in range(0, 16, 4)]
    return ":".join(groups)


@dataclass(frozen=True)
class Profile:
    """What one dongle family prints and accepts."""

    name: str
    dual_stack: bool
    rohm: bool
    ever: str
    eappver: str
    #: The dongle's own EUI-64 (16 hex digits).
    mac: str
    #: Factory ERXUDP mode: 0 binary, 1 hex. Tessera sticks are hex only (no WOPT).
    default_wopt: int
    default_wuart: int
    registers: frozenset[int]
    #: BP35A1 prints a blank line and a second partial list after ``SKTABLE E``.
    sktable_quirk: bool = False
    #: RL7023/IPS capture shows ``EINFO ... FFFE `` with a trailing space.
    einfo_trailing_space: bool = False
    #: ERXUDP gains an LQI token when SA2=1 (DS firmware only).
    sa2_layout: bool = False

    @property
    def address(self) -> str:
        return ll64(self.mac)

    # -- line builders ---------------------------------------------------------------------
    def event(self, num: int, sender: str, param: int | None = None, side: int = 0) -> bytes:
        """``EVENT <NUM> <SENDER> [<SIDE>] [<PARAM>]``; DS firmware adds SIDE. EVENT C0 has no address."""
        parts = [f"EVENT {num:02X}"]
        if num != 0xC0:
            parts.append(sender)
            if self.dual_stack:
                parts.append(str(side))
        if param is not None:
            parts.append(f"{param:02X}")
        return " ".join(parts).encode() + CRLF

    def einfo(self, channel: int, pan_id: int) -> bytes:
        fifth = "0" if self.dual_stack else "FFFE"
        line = f"EINFO {self.address} {self.mac} {channel:02X} {pan_id:04X} {fifth}"
        if self.einfo_trailing_space:
            line += " "
        return line.encode() + CRLF

    def epandesc(
        self,
        channel: int,
        pan_id: int,
        addr: str,
        lqi: int,
        pair_id: str | None,
        side: int = 0,
    ) -> bytes:
        """``EPANDESC`` block (two-space indented lines); DS adds ``Side``, mode 2 adds ``PairID``."""
        lines = [
            "EPANDESC",
            f"  Channel:{channel:02X}",
            "  Channel Page:09",
            f"  Pan ID:{pan_id:04X}",
            f"  Addr:{addr}",
            f"  LQI:{lqi:02X}",
        ]
        if self.dual_stack:
            lines.append(f"  Side:{side}")
        if pair_id is not None:
            lines.append(f"  PairID:{pair_id}")
        return b"".join(line.encode() + CRLF for line in lines)

    def erxudp(
        self,
        *,
        sender: str,
        dest: str,
        rport: int,
        lport: int,
        sender_mac: str,
        secured: int,
        data: bytes,
        binary: bool,
        lqi: int,
        sa2: bool,
        side: int = 0,
    ) -> bytes:
        """One ERXUDP line: SS 9 tokens, DS 10 (SIDE before DATALEN), DS with SA2=1 11 (LQI before SECURED)."""
        parts = ["ERXUDP", sender, dest, f"{rport:04X}", f"{lport:04X}", sender_mac]
        if self.dual_stack and self.sa2_layout and sa2:
            parts.append(f"{lqi:02X}")
        parts.append(str(secured))
        if self.dual_stack:
            parts.append(str(side))
        parts.append(f"{len(data):04X}")
        head = " ".join(parts).encode() + b" "
        body = data if binary else data.hex().upper().encode()
        return head + body + CRLF

    def eport(self) -> bytes:
        """``SKTABLE E`` answer (without the final OK)."""
        lines = ["EPORT", "3610", "716", "0", "0", "0", "0"]
        if self.sktable_quirk:
            lines += ["", "3610", "0", "0", "0"]
        return b"".join(line.encode() + CRLF for line in lines)

    def product_end(self) -> bytes:
        """Line end of answers to WOPT/ROPT/WUART/RUART: CR only on ROHM."""
        return b"\r" if self.rohm else CRLF


_PROFILES = {
    "bp35a1": Profile(
        name="bp35a1",
        dual_stack=False,
        rohm=True,
        ever="1.2.10",
        eappver="rev26e",
        mac="001D129000040A11",
        default_wopt=0,
        default_wuart=0x00,
        registers=_SS_REGISTERS | {0xA2},
        sktable_quirk=True,
    ),
    "rl7023-ips": Profile(
        name="rl7023-ips",
        dual_stack=False,
        rohm=False,
        ever="1.2.8",
        eappver="rl7023ips-sim",
        mac="100723FFFEA077E3",
        default_wopt=1,
        default_wuart=0x00,
        registers=_SS_REGISTERS | {0xA2},
        einfo_trailing_space=True,
    ),
    "rl7023-dss": Profile(
        name="rl7023-dss",
        dual_stack=True,
        rohm=False,
        ever="1.3.2",
        eappver="rl7023dss-sim",
        mac="100723FFFEA07A52",
        default_wopt=1,
        default_wuart=0x00,
        registers=_SS_REGISTERS | {0xA2, 0xF0},
        sa2_layout=True,
    ),
    "bp35c0": Profile(
        name="bp35c0",
        dual_stack=True,
        rohm=True,
        ever="1.5.2",
        eappver="rev1.2.4",
        mac="001D129100022B4F",
        default_wopt=1,
        default_wuart=0x00,
        registers=_SS_REGISTERS | {0xA2, 0xF0},
        sa2_layout=True,
    ),
}

ALIASES = {"bp35c2": "bp35c0"}

DIALECTS = tuple(_PROFILES) + tuple(ALIASES)


def get_profile(dialect: str) -> Profile:
    """The profile of ``bp35a1``, ``rl7023-ips``, ``rl7023-dss``, ``bp35c0`` (or ``bp35c2``)."""
    key = ALIASES.get(dialect.lower(), dialect.lower())
    try:
        return _PROFILES[key]
    except KeyError:
        raise ValueError(f"unknown dongle {dialect!r}: choose one of {', '.join(DIALECTS)}") from None
