"""Per-dialect output shapes of the simulated dongle (the facts sheet, section 1-2).

A :class:`Profile` says *what* a dongle family prints; :mod:`logger.simulate.dongle`
decides *when*. Everything here is pure formatting: text in, bytes out.

The family facts (single/dual stack, ROHM product commands, factory ERXUDP format, whether
``SA2 1`` adds an LQI token, aliases) come from the one table
:data:`logger.skstack.families.FAMILIES`; only what the simulator alone needs is kept
here, in :data:`_FIRMWARE`:

* version strings: ``EVER 1.2.10`` / ``EAPPVER rev26e`` (BP35A1, smdn) and ``EVER 1.5.2``
  (BP35C0) are from captures; the Tessera versions are illustrative placeholders, not
  known firmware numbers;
* the dongle's own EUI-64;
* firmware quirks: the BP35A1 ``SKTABLE E`` second partial list, the RL7023/IPS ``EINFO``
  trailing space (netlog capture).

Register sets come from :func:`logger.simulate.registers.registers_for`. The Skyley "HAN
extension" ERXUDP layout is not modelled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from logger.simulate.registers import registers_for
from logger.simulate.wire import ALL_NODES, CRLF, ll64
from logger.skstack.families import ALIASES, BY_NAME, FAMILIES, Family, normalise

__all__ = ["ALIASES", "ALL_NODES", "CRLF", "DIALECTS", "Profile", "get_profile", "ll64"]


@dataclass(frozen=True)
class Profile:
    """What one dongle family prints and accepts."""

    family: Family
    ever: str
    eappver: str
    #: The dongle's own EUI-64 (16 hex digits).
    mac: str
    default_wuart: int = 0x00
    #: BP35A1 prints a blank line and a second partial list after ``SKTABLE E``.
    sktable_quirk: bool = False
    #: RL7023/IPS capture shows ``EINFO ... FFFE `` with a trailing space.
    einfo_trailing_space: bool = False

    @property
    def name(self) -> str:
        return self.family.name

    @property
    def dual_stack(self) -> bool:
        return self.family.dual_stack

    @property
    def rohm(self) -> bool:
        return self.family.rohm

    @property
    def default_wopt(self) -> int:
        """Factory ERXUDP mode: 0 binary, 1 hex (Tessera sticks have no WOPT and print hex)."""
        return 0 if self.family.factory_binary else 1

    @property
    def sa2_layout(self) -> bool:
        """ERXUDP gains an LQI token when SA2=1."""
        return self.family.sa2_lqi

    @property
    def registers(self) -> frozenset[int]:
        return registers_for(self.family.dual_stack)

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


@dataclass(frozen=True)
class _Firmware:
    """Simulator-only facts of one family (see the module docstring)."""

    ever: str
    eappver: str
    mac: str
    sktable_quirk: bool = False
    einfo_trailing_space: bool = False


#: Keyed like ``FAMILIES``: a family row without an entry here fails at import.
_FIRMWARE: dict[str, _Firmware] = {
    "bp35a1": _Firmware("1.2.10", "rev26e", "001D129000040A11", sktable_quirk=True),
    "rl7023-ips": _Firmware("1.2.8", "rl7023ips-sim", "100723FFFEA077E3", einfo_trailing_space=True),
    "rl7023-dss": _Firmware("1.3.2", "rl7023dss-sim", "100723FFFEA07A52"),
    "bp35c0": _Firmware("1.5.2", "rev1.2.4", "001D129100022B4F"),
}

_PROFILES = {f.name: Profile(f, **asdict(_FIRMWARE[f.name])) for f in FAMILIES}

#: Every name ``--dongle`` accepts: the family names, then their aliases.
DIALECTS = tuple(BY_NAME) + tuple(sorted(ALIASES))


def get_profile(dialect: str) -> Profile:
    """The profile of a family name or alias (``bp35a1``, ``rl7023-ips``, ``rl7023-dss``, ``bp35c0``, ``bp35c2``...)."""
    key = normalise(dialect)
    try:
        return _PROFILES[ALIASES.get(key, key)]
    except KeyError:
        raise ValueError(f"unknown dongle {dialect!r}: choose one of {', '.join(DIALECTS)}") from None
