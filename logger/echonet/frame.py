"""ECHONET Lite frame codec (format 1), sans-I/O.

``EHD1 EHD2 TID SEOJ DEOJ ESV OPC {EPC PDC EDT}*OPC`` — big-endian throughout.
SetGet-family ESVs (0x6E, 0x7E, 0x5E) carry two property lists: the set list
then the get list (``OPCSet ... OPCGet ...``).

:func:`decode_frame` raises :class:`FrameError` (and nothing else) for any
malformed input; :meth:`Frame.encode` is its exact inverse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

EHD1 = 0x10
EHD2_FORMAT1 = 0x81

#: Object codes (class group, class, instance) as 24-bit integers.
CONTROLLER = 0x05FF01
METER = 0x028801
NODE_PROFILE = 0x0EF001


class ESV(IntEnum):
    """ECHONET Lite service codes."""

    SETI = 0x60
    SETC = 0x61
    GET = 0x62
    INF_REQ = 0x63
    SETGET = 0x6E
    SET_RES = 0x71
    GET_RES = 0x72
    INF = 0x73
    INFC = 0x74
    INFC_RES = 0x7A
    SETGET_RES = 0x7E
    SETI_SNA = 0x50
    SETC_SNA = 0x51
    GET_SNA = 0x52
    INF_SNA = 0x53
    SETGET_SNA = 0x5E


#: ESVs whose frame carries two property lists (set list, then get list).
TWO_LIST_ESVS = frozenset({ESV.SETGET, ESV.SETGET_RES, ESV.SETGET_SNA})

ESV_NAMES = {
    ESV.SETI: "SetI",
    ESV.SETC: "SetC",
    ESV.GET: "Get",
    ESV.INF_REQ: "INF_REQ",
    ESV.SETGET: "SetGet",
    ESV.SET_RES: "Set_Res",
    ESV.GET_RES: "Get_Res",
    ESV.INF: "INF",
    ESV.INFC: "INFC",
    ESV.INFC_RES: "INFC_Res",
    ESV.SETGET_RES: "SetGet_Res",
    ESV.SETI_SNA: "SetI_SNA",
    ESV.SETC_SNA: "SetC_SNA",
    ESV.GET_SNA: "Get_SNA",
    ESV.INF_SNA: "INF_SNA",
    ESV.SETGET_SNA: "SetGet_SNA",
}


class FrameError(ValueError):
    """A byte string is not a well-formed ECHONET Lite format-1 frame."""


def esv_name(esv: int) -> str:
    try:
        return ESV_NAMES[ESV(esv)]
    except ValueError:
        return f"ESV_{esv:02X}"


@dataclass(frozen=True, slots=True)
class Property:
    """One ``EPC PDC EDT`` triple; PDC is ``len(edt)``."""

    epc: int
    edt: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.epc <= 0xFF:
            raise FrameError(f"EPC {self.epc!r} is not one byte")
        if len(self.edt) > 0xFF:
            raise FrameError(f"EDT of EPC {self.epc:02X} is {len(self.edt)} bytes; PDC is one byte (max 255)")

    @property
    def pdc(self) -> int:
        return len(self.edt)

    def __repr__(self) -> str:
        return f"Property(epc=0x{self.epc:02X}, edt={self.edt.hex().upper() or '-'})"


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded ECHONET Lite format-1 frame."""

    tid: int
    seoj: int
    deoj: int
    esv: int
    props: tuple[Property, ...] = ()
    #: The get list of SetGet / SetGet_Res / SetGet_SNA (empty otherwise).
    props_get: tuple[Property, ...] = field(default=())

    def __post_init__(self) -> None:
        if not 0 <= self.tid <= 0xFFFF:
            raise FrameError(f"TID {self.tid!r} is not 16-bit")
        for name in ("seoj", "deoj"):
            if not 0 <= getattr(self, name) <= 0xFFFFFF:
                raise FrameError(f"{name.upper()} is not a 3-byte object code")
        if not 0 <= self.esv <= 0xFF:
            raise FrameError(f"ESV {self.esv!r} is not one byte")
        if len(self.props) > 0xFF or len(self.props_get) > 0xFF:
            raise FrameError("more than 255 properties in one list")
        if self.props_get and self.esv not in TWO_LIST_ESVS:
            raise FrameError(
                f"ESV {self.esv:02X} carries one property list; a get list only exists for SetGet (6E/7E/5E)"
            )

    @property
    def esv_name(self) -> str:
        return esv_name(self.esv)

    @property
    def opc(self) -> int:
        return len(self.props)

    def prop(self, epc: int) -> Property | None:
        """The first property with this EPC, or ``None``."""
        for p in self.props:
            if p.epc == epc:
                return p
        return None

    def encode(self) -> bytes:
        out = bytearray((EHD1, EHD2_FORMAT1))
        out += self.tid.to_bytes(2, "big")
        out += self.seoj.to_bytes(3, "big")
        out += self.deoj.to_bytes(3, "big")
        out.append(self.esv)
        lists = [self.props, self.props_get] if self.esv in TWO_LIST_ESVS else [self.props]
        for plist in lists:
            out.append(len(plist))
            for p in plist:
                out.append(p.epc)
                out.append(len(p.edt))
                out += p.edt
        return bytes(out)

    def __repr__(self) -> str:
        props = ", ".join(repr(p) for p in self.props)
        return (
            f"Frame(tid=0x{self.tid:04X}, seoj={self.seoj:06X}, deoj={self.deoj:06X}, "
            f"esv={self.esv_name}, props=[{props}])"
        )


def _read_list(data: bytes, pos: int) -> tuple[tuple[Property, ...], int]:
    if pos >= len(data):
        raise FrameError(f"frame ends before OPC at byte {pos} (length {len(data)})")
    opc = data[pos]
    pos += 1
    props = []
    for i in range(opc):
        if pos + 2 > len(data):
            raise FrameError(f"frame ends inside property {i + 1} of {opc} (byte {pos} of {len(data)})")
        epc, pdc = data[pos], data[pos + 1]
        pos += 2
        if pos + pdc > len(data):
            raise FrameError(
                f"PDC overrun: EPC {epc:02X} declares {pdc} bytes but only {len(data) - pos} remain"
            )
        props.append(Property(epc, bytes(data[pos : pos + pdc])))
        pos += pdc
    return tuple(props), pos


def decode_frame(data: bytes) -> Frame:
    """Decode one complete frame; trailing bytes are an error (wrong length)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FrameError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 12:
        raise FrameError(f"frame too short: {len(data)} bytes (minimum 12)")
    if data[0] != EHD1 or data[1] != EHD2_FORMAT1:
        raise FrameError(f"bad header {data[:2].hex().upper()}: expected 1081 (ECHONET Lite format 1)")
    tid = int.from_bytes(data[2:4], "big")
    seoj = int.from_bytes(data[4:7], "big")
    deoj = int.from_bytes(data[7:10], "big")
    esv = data[10]
    props, pos = _read_list(data, 11)
    props_get: tuple[Property, ...] = ()
    if esv in TWO_LIST_ESVS:
        props_get, pos = _read_list(data, pos)
    if pos != len(data):
        raise FrameError(f"wrong length: {len(data) - pos} unexpected trailing byte(s) after the last property")
    return Frame(tid, seoj, deoj, esv, props, props_get)


def decode_hex(text: str) -> Frame:
    """Decode a frame written as hex (either case)."""
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise FrameError(f"not hex: {text[:40]!r}") from exc
    return decode_frame(raw)


def get_request(tid: int, epcs: list[int] | tuple[int, ...], seoj: int = CONTROLLER, deoj: int = METER) -> Frame:
    """A Get (0x62) asking for ``epcs`` (PDC 0 each)."""
    return Frame(tid, seoj, deoj, ESV.GET, tuple(Property(e) for e in epcs))


def infc_response(infc: Frame, tid: int | None = None) -> Frame:
    """The INFC_Res (0x7A) acknowledging ``infc``: same TID, EOJs swapped, EPCs with PDC 0."""
    return Frame(
        infc.tid if tid is None else tid,
        infc.deoj,
        infc.seoj,
        ESV.INFC_RES,
        tuple(Property(p.epc) for p in infc.props),
    )
