"""Typed, frozen values of the low-voltage smart meter properties (class 0x028801), sans-I/O.

Every class has ``decode(edt) -> value`` (a classmethod; wrong sizes and impossible contents raise
:class:`PropertyError`) and ``encode() -> bytes``, its exact inverse. Which class belongs to which EPC is
decided in :mod:`logger.echonet.meter`; nothing here knows the EPC, so messages name the property
kind and :func:`logger.echonet.meter.decode` prefixes the EPC.

Energy counts stay raw integers here (scaling needs D3 and E1, see ``meter.samples``). A 4-byte energy
count of 0xFFFFFFFE ("no data") is ``None``; encoding ``None`` writes 0xFFFFFFFE back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum

from logger.echonet.frame import FrameError
from logger.typehints import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import ClassVar

NO_ENERGY = 0xFFFFFFFE
"""A 4-byte energy count that means "no data" (future or missing slot)."""


class PropertyError(FrameError):
    """An EDT does not fit the property it claims to carry (wrong size or impossible content)."""


class NoValue(Enum):
    """Why a measured value is missing."""

    NO_DATA = "no data"
    OVERFLOW = "overflow"
    UNDERFLOW = "underflow"
    NOT_APPLICABLE = "not applicable"  # T phase on single-phase two-wire service


def _size(edt: bytes, size: int, what: str) -> None:
    if len(edt) != size:
        raise PropertyError(
            f"{what} needs exactly {size} byte(s) of EDT, got {len(edt)} ({edt.hex().upper() or 'empty'})"
        )


def _u(edt: bytes) -> int:
    return int.from_bytes(edt, "big")


def _range(value: int, low: int, high: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PropertyError(f"{what} {value!r} is out of range {low}-{high}")


def _energy(raw: bytes) -> int | None:
    value = _u(raw)
    return None if value == NO_ENERGY else value


def _energy_bytes(raw: int | None) -> bytes:
    return (NO_ENERGY if raw is None else raw).to_bytes(4, "big")


def _check_energy(raw: int | None, what: str) -> None:
    if raw is not None:
        _range(raw, 0, 0xFFFFFFFF, what)
        if raw == NO_ENERGY:
            raise PropertyError(f"{what} 0xFFFFFFFE is the no-data code; use None")


def _read_datetime(edt: bytes, what: str, seconds: bool) -> datetime:
    """YYYY(2) MM DD hh mm [ss] as a naive datetime (the meter's local time)."""
    year, fields = _u(edt[0:2]), tuple(edt[2 : 7 if seconds else 6])
    try:
        return datetime(year, *fields)
    except ValueError as exc:
        shown = f"{year:04d}-{fields[0]:02d}-{fields[1]:02d} {fields[2]:02d}:{fields[3]:02d}"
        if seconds:
            shown += f":{fields[4]:02d}"
        raise PropertyError(f"{what}: {shown} is not a valid date/time ({exc})") from None


def _write_datetime(at: datetime, seconds: bool) -> bytes:
    out = at.year.to_bytes(2, "big") + bytes((at.month, at.day, at.hour, at.minute))
    return out + bytes((at.second,)) if seconds else out


def _check_datetime(at: object, what: str, seconds: bool) -> None:
    if not isinstance(at, datetime) or at.tzinfo is not None:
        raise PropertyError(f"{what} must be a naive datetime (the meter's local time), got {at!r}")
    if at.microsecond or (not seconds and at.second):
        raise PropertyError(f"{what} {at.isoformat()} has more precision than the property carries")


# --------------------------------------------------------------------------------- super class (0x80-0x9F)


@dataclass(frozen=True, slots=True)
class OperationStatus:
    """0x80: 0x30 ON, 0x31 OFF."""

    code: int

    def __post_init__(self) -> None:
        if self.code not in (0x30, 0x31):
            raise PropertyError(f"operation status code {self.code!r} is neither 0x30 (ON) nor 0x31 (OFF)")

    @property
    def on(self) -> bool:
        return self.code == 0x30

    @classmethod
    def decode(cls, edt: bytes) -> OperationStatus:
        _size(edt, 1, "operation status")
        return cls(edt[0])

    def encode(self) -> bytes:
        return bytes((self.code,))


LOCATION_NAMES = {
    1: "living room",
    2: "dining room",
    3: "kitchen",
    4: "bathroom",
    5: "lavatory",
    6: "washroom",
    7: "passage",
    8: "room",
    9: "stairs",
    10: "entrance",
    11: "storeroom",
    12: "garden/perimeter",
    13: "garage",
    14: "veranda",
    15: "other",
}


@dataclass(frozen=True, slots=True)
class InstallationLocation:
    """0x81: one code byte, or 0x01 followed by 16 free-form bytes (17 bytes).

    Code byte: 0x00 not set, 0xFF undetermined, 0x80-0xFE user-defined; otherwise bits 6-3 are the
    location code (:data:`LOCATION_NAMES`) and bits 2-0 the room number.
    """

    code: int
    free_form: bytes | None = None

    def __post_init__(self) -> None:
        _range(self.code, 0, 0xFF, "installation location code")
        if self.free_form is not None and (self.code != 0x01 or len(self.free_form) != 16):
            raise PropertyError("installation location free-form data must be 16 bytes after code 0x01")

    @property
    def is_set(self) -> bool:
        return self.code != 0x00

    @property
    def undetermined(self) -> bool:
        return self.code == 0xFF

    @property
    def user_defined(self) -> bool:
        return 0x80 <= self.code <= 0xFE

    @property
    def location(self) -> int | None:
        """Location code 1-15, or ``None`` when the byte is not a location code."""
        if self.free_form is not None or self.code >= 0x80 or self.code >> 3 == 0:
            return None
        return self.code >> 3

    @property
    def room(self) -> int | None:
        return None if self.location is None else self.code & 0x07

    @property
    def location_name(self) -> str | None:
        return None if self.location is None else LOCATION_NAMES[self.location]

    def __str__(self) -> str:
        if self.free_form is not None:
            return f"free-form {self.free_form.hex().upper()}"
        if self.location is not None:
            return f"{self.location_name} {self.room}"
        if self.code == 0x00:
            return "not set"
        if self.undetermined:
            return "undetermined"
        return f"{'user-defined' if self.user_defined else 'reserved'} code 0x{self.code:02X}"

    @classmethod
    def decode(cls, edt: bytes) -> InstallationLocation:
        if len(edt) == 1:
            return cls(edt[0])
        if len(edt) == 17:
            if edt[0] != 0x01:
                raise PropertyError(f"17-byte installation location must start with 0x01, got 0x{edt[0]:02X}")
            return cls(0x01, bytes(edt[1:]))
        raise PropertyError(f"installation location needs 1 or 17 bytes of EDT, got {len(edt)}")

    def encode(self) -> bytes:
        return bytes((self.code,)) + (self.free_form or b"")


@dataclass(frozen=True, slots=True)
class StandardVersion:
    """0x82: ``00 00 <release letter> <revision>`` (Appendix release, e.g. Release F)."""

    release: str
    revision: int = 0
    reserved: bytes = b"\x00\x00"

    def __post_init__(self) -> None:
        if not isinstance(self.release, str) or len(self.release) != 1 or ord(self.release) > 0xFF:
            raise PropertyError(f"standard version release must be one character, got {self.release!r}")
        _range(self.revision, 0, 0xFF, "standard version revision")
        if len(self.reserved) != 2:
            raise PropertyError("standard version reserved part must be 2 bytes")

    def __str__(self) -> str:
        return f"Release {self.release} rev {self.revision}"

    @classmethod
    def decode(cls, edt: bytes) -> StandardVersion:
        _size(edt, 4, "standard version")
        return cls(chr(edt[2]), edt[3], bytes(edt[0:2]))

    def encode(self) -> bytes:
        return self.reserved + bytes((ord(self.release), self.revision))


@dataclass(frozen=True, slots=True)
class IdentificationNumber:
    """0x83: scheme byte (0xFE = manufacturer-defined), 3-byte maker code, 13 unique bytes."""

    scheme: int
    manufacturer: int
    unique: bytes

    def __post_init__(self) -> None:
        _range(self.scheme, 0, 0xFF, "identification number scheme")
        _range(self.manufacturer, 0, 0xFFFFFF, "identification number maker code")
        if len(self.unique) != 13:
            raise PropertyError("identification number unique part must be 13 bytes")

    @classmethod
    def decode(cls, edt: bytes) -> IdentificationNumber:
        _size(edt, 17, "identification number")
        return cls(edt[0], _u(edt[1:4]), bytes(edt[4:]))

    def encode(self) -> bytes:
        return bytes((self.scheme,)) + self.manufacturer.to_bytes(3, "big") + self.unique


@dataclass(frozen=True, slots=True)
class FaultStatus:
    """0x88: 0x41 fault, 0x42 no fault."""

    code: int

    def __post_init__(self) -> None:
        if self.code not in (0x41, 0x42):
            raise PropertyError(f"fault status code {self.code!r} is neither 0x41 (fault) nor 0x42 (no fault)")

    @property
    def fault(self) -> bool:
        return self.code == 0x41

    @classmethod
    def decode(cls, edt: bytes) -> FaultStatus:
        _size(edt, 1, "fault status")
        return cls(edt[0])

    def encode(self) -> bytes:
        return bytes((self.code,))


@dataclass(frozen=True, slots=True)
class ManufacturerCode:
    """0x8A: 3-byte maker code (e.g. 0x000016)."""

    code: int

    def __post_init__(self) -> None:
        _range(self.code, 0, 0xFFFFFF, "manufacturer code")

    def __str__(self) -> str:
        return f"{self.code:06X}"

    @classmethod
    def decode(cls, edt: bytes) -> ManufacturerCode:
        _size(edt, 3, "manufacturer code")
        return cls(_u(edt))

    def encode(self) -> bytes:
        return self.code.to_bytes(3, "big")


@dataclass(frozen=True, slots=True)
class ProductionNumber:
    """0x8D: 12 bytes of ASCII, NUL (or space) padded; kept raw so it encodes back exactly."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 12:
            raise PropertyError(f"production number must be 12 bytes, got {len(self.raw)}")

    @property
    def text(self) -> str:
        return self.raw.decode("ascii", errors="replace").rstrip("\x00 ")

    @classmethod
    def decode(cls, edt: bytes) -> ProductionNumber:
        _size(edt, 12, "production number")
        return cls(bytes(edt))

    def encode(self) -> bytes:
        return self.raw


@dataclass(frozen=True, slots=True)
class CurrentTime:
    """0x97: hour, minute (meter's local time)."""

    value: time

    def __post_init__(self) -> None:
        if not isinstance(self.value, time) or self.value.second or self.value.microsecond or self.value.tzinfo:
            raise PropertyError(f"current time must be a naive time of hours and minutes, got {self.value!r}")

    @classmethod
    def decode(cls, edt: bytes) -> CurrentTime:
        _size(edt, 2, "current time")
        try:
            return cls(time(edt[0], edt[1]))
        except ValueError:
            raise PropertyError(f"current time {edt[0]:02d}:{edt[1]:02d} is not a valid time of day") from None

    def encode(self) -> bytes:
        return bytes((self.value.hour, self.value.minute))


@dataclass(frozen=True, slots=True)
class CurrentDate:
    """0x98: year(2), month, day (meter's local date)."""

    value: date

    def __post_init__(self) -> None:
        if not isinstance(self.value, date) or isinstance(self.value, datetime):
            raise PropertyError(f"current date must be a date, got {self.value!r}")

    @classmethod
    def decode(cls, edt: bytes) -> CurrentDate:
        _size(edt, 4, "current date")
        year = _u(edt[0:2])
        try:
            return cls(date(year, edt[2], edt[3]))
        except ValueError:
            raise PropertyError(f"current date {year:04d}-{edt[2]:02d}-{edt[3]:02d} is not a valid date") from None

    def encode(self) -> bytes:
        return self.value.year.to_bytes(2, "big") + bytes((self.value.month, self.value.day))


@dataclass(frozen=True, slots=True)
class PropertyMap:
    """0x9C/0x9D/0x9E/0x9F: a set of EPCs (0x80-0xFF).

    Wire forms: fewer than 16 EPCs -> count + list; 16 or more -> count + 16-byte bitmap where
    byte ``i`` bit ``j`` means EPC ``0x80 + 0x10*j + i``.
    """

    epcs: frozenset[int]

    def __post_init__(self) -> None:
        bad = [e for e in self.epcs if isinstance(e, bool) or not isinstance(e, int) or not 0x80 <= e <= 0xFF]
        if bad:
            raise PropertyError(f"property map EPC(s) {bad!r} outside 0x80-0xFF")

    def __contains__(self, epc: object) -> bool:
        return epc in self.epcs

    def __repr__(self) -> str:
        return f"PropertyMap({' '.join(f'{e:02X}' for e in sorted(self.epcs))})"

    @classmethod
    def decode(cls, edt: bytes) -> PropertyMap:
        if not edt:
            raise PropertyError("property map needs at least the count byte, got an empty EDT")
        count = edt[0]
        if count < 16:
            _size(edt, 1 + count, f"property map (list form, count {count})")
            epcs = frozenset(edt[1:])
            if len(epcs) != count:
                raise PropertyError(f"property map lists an EPC twice: {edt[1:].hex(' ').upper()}")
            return cls(epcs)
        _size(edt, 17, f"property map (bitmap form, count {count})")
        found = frozenset(0x80 + 0x10 * j + i for i in range(16) for j in range(8) if edt[1 + i] >> j & 1)
        if len(found) != count:
            raise PropertyError(f"property map bitmap has {len(found)} bits set but the count byte says {count}")
        return cls(found)

    def encode(self) -> bytes:
        count = len(self.epcs)
        if count < 16:
            return bytes((count, *sorted(self.epcs)))
        bitmap = bytearray(16)
        for epc in self.epcs:
            i, j = (epc - 0x80) % 0x10, (epc - 0x80) // 0x10
            bitmap[i] |= 1 << j
        return bytes((count,)) + bytes(bitmap)


# --------------------------------------------------------------------------------- meter class (0xC0-0xEF)


@dataclass(frozen=True, slots=True)
class RouteBId:
    """0xC0: reserved byte, 3-byte maker code, then the identifier.

    The identifier may equal the B-route authentication ID (a secret), so it is never shown in
    ``repr``/``str``; only the maker code and the length are.
    """

    edt: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.edt) < 4:
            raise PropertyError(f"route B ID needs at least 4 bytes (reserved + maker code), got {len(self.edt)}")

    @property
    def manufacturer(self) -> int:
        return _u(self.edt[1:4])

    def __repr__(self) -> str:
        return f"RouteBId(manufacturer={self.manufacturer:06X}, {len(self.edt)} bytes, identifier hidden)"

    __str__ = __repr__

    @classmethod
    def decode(cls, edt: bytes) -> RouteBId:
        return cls(bytes(edt))

    def encode(self) -> bytes:
        return self.edt


@dataclass(frozen=True, slots=True)
class OneMinuteEnergy:
    """0xD0: YYYY MM DD hh mm ss + normal + reverse raw counts (``None`` = no data)."""

    at: datetime
    normal: int | None
    reverse: int | None

    def __post_init__(self) -> None:
        _check_datetime(self.at, "one-minute energy time", seconds=True)
        _check_energy(self.normal, "one-minute energy normal count")
        _check_energy(self.reverse, "one-minute energy reverse count")

    @classmethod
    def decode(cls, edt: bytes) -> OneMinuteEnergy:
        _size(edt, 15, "one-minute cumulative energy")
        return cls(_read_datetime(edt, "one-minute energy time", True), _energy(edt[7:11]), _energy(edt[11:15]))

    def encode(self) -> bytes:
        return _write_datetime(self.at, True) + _energy_bytes(self.normal) + _energy_bytes(self.reverse)


@dataclass(frozen=True, slots=True)
class Coefficient:
    """0xD3: multiplier of the energy counts, 1-999999."""

    value: int

    def __post_init__(self) -> None:
        _range(self.value, 1, 999999, "coefficient")

    @classmethod
    def decode(cls, edt: bytes) -> Coefficient:
        _size(edt, 4, "coefficient")
        return cls(_u(edt))

    def encode(self) -> bytes:
        return self.value.to_bytes(4, "big")


@dataclass(frozen=True, slots=True)
class EffectiveDigits:
    """0xD7: number of decimal digits of the energy counter, 1-8 (it wraps at 10**digits)."""

    value: int

    def __post_init__(self) -> None:
        _range(self.value, 1, 8, "effective digits")

    @classmethod
    def decode(cls, edt: bytes) -> EffectiveDigits:
        _size(edt, 1, "effective digits")
        return cls(edt[0])

    def encode(self) -> bytes:
        return bytes((self.value,))


@dataclass(frozen=True, slots=True)
class CumulativeEnergy:
    """0xE0/0xE3: raw count (``None`` = 0xFFFFFFFE, no data)."""

    raw: int | None

    def __post_init__(self) -> None:
        _check_energy(self.raw, "cumulative energy count")

    @classmethod
    def decode(cls, edt: bytes) -> CumulativeEnergy:
        _size(edt, 4, "cumulative energy")
        return cls(_energy(edt))

    def encode(self) -> bytes:
        return _energy_bytes(self.raw)


ENERGY_UNITS: dict[int, Decimal] = {
    0x00: Decimal(1),
    0x01: Decimal("0.1"),
    0x02: Decimal("0.01"),
    0x03: Decimal("0.001"),
    0x04: Decimal("0.0001"),
    0x0A: Decimal(10),
    0x0B: Decimal(100),
    0x0C: Decimal(1000),
    0x0D: Decimal(10000),
}
"""E1 code -> kWh per count."""


@dataclass(frozen=True, slots=True)
class EnergyUnit:
    """0xE1: code of the kWh per count (:data:`ENERGY_UNITS`)."""

    code: int

    def __post_init__(self) -> None:
        if self.code not in ENERGY_UNITS:
            codes = " ".join(f"{c:02X}" for c in ENERGY_UNITS)
            raise PropertyError(f"energy unit code {self.code!r} is not one of {codes}")

    @property
    def kwh(self) -> Decimal:
        return ENERGY_UNITS[self.code]

    @classmethod
    def decode(cls, edt: bytes) -> EnergyUnit:
        _size(edt, 1, "energy unit")
        return cls(edt[0])

    def encode(self) -> bytes:
        return bytes((self.code,))


SLOTS_PER_DAY = 48


@dataclass(frozen=True, slots=True)
class DailyHistory:
    """0xE2/0xE4: day N (0 = today ... 99) and 48 raw counts for 00:00, 00:30 ... 23:30 of that day."""

    day: int
    slots: tuple[int | None, ...]

    def __post_init__(self) -> None:
        _range(self.day, 0, 99, "historical data day")
        if len(self.slots) != SLOTS_PER_DAY:
            raise PropertyError(f"daily history needs {SLOTS_PER_DAY} slots, got {len(self.slots)}")
        for raw in self.slots:
            _check_energy(raw, "daily history slot")

    def points(self, today: date) -> list[tuple[datetime, int | None]]:
        """(meter local time, raw count) per slot, given the meter's local date of day 0."""
        start = datetime.combine(today - timedelta(days=self.day), time())
        return [(start + timedelta(minutes=30 * i), raw) for i, raw in enumerate(self.slots)]

    @classmethod
    def decode(cls, edt: bytes) -> DailyHistory:
        _size(edt, 2 + 4 * SLOTS_PER_DAY, "daily history")
        return cls(_u(edt[0:2]), tuple(_energy(edt[2 + 4 * i : 6 + 4 * i]) for i in range(SLOTS_PER_DAY)))

    def encode(self) -> bytes:
        return self.day.to_bytes(2, "big") + b"".join(_energy_bytes(raw) for raw in self.slots)


@dataclass(frozen=True, slots=True)
class HistoryDay:
    """0xE5: which day E2/E4 return, 0 = today ... 99."""

    day: int

    def __post_init__(self) -> None:
        _range(self.day, 0, 99, "historical data day")

    @classmethod
    def decode(cls, edt: bytes) -> HistoryDay:
        _size(edt, 1, "historical data day")
        return cls(edt[0])

    def encode(self) -> bytes:
        return bytes((self.day,))


POWER_CODES = {0x7FFFFFFE: NoValue.NO_DATA, 0x7FFFFFFF: NoValue.OVERFLOW, -0x80000000: NoValue.UNDERFLOW}
_POWER_BY_CODE = {v: k for k, v in POWER_CODES.items()}


@dataclass(frozen=True, slots=True)
class InstantPower:
    """0xE7: signed W (negative = reverse flow); ``watts`` is ``None`` with the reason in ``missing``."""

    watts: int | None
    missing: NoValue | None = None

    def __post_init__(self) -> None:
        if (self.watts is None) == (self.missing is None):
            raise PropertyError("instantaneous power needs exactly one of watts and missing")
        if self.watts is not None:
            _range(self.watts, -0x7FFFFFFF, 0x7FFFFFFD, "instantaneous power (W)")
        elif self.missing not in _POWER_BY_CODE:
            raise PropertyError(f"instantaneous power cannot be missing for reason {self.missing!r}")

    @classmethod
    def decode(cls, edt: bytes) -> InstantPower:
        _size(edt, 4, "instantaneous power")
        value = int.from_bytes(edt, "big", signed=True)
        missing = POWER_CODES.get(value)
        return cls(value) if missing is None else cls(None, missing)

    def encode(self) -> bytes:
        value = self.watts if self.missing is None else _POWER_BY_CODE[self.missing]
        return value.to_bytes(4, "big", signed=True)


_R_CODES = {0x7FFE: NoValue.NO_DATA, 0x7FFF: NoValue.OVERFLOW, -0x8000: NoValue.UNDERFLOW}
_T_CODES = {0x7FFE: NoValue.NOT_APPLICABLE, 0x7FFF: NoValue.OVERFLOW, -0x8000: NoValue.UNDERFLOW}
_TENTH = Decimal("0.1")


def _current(raw: int, codes: dict[int, NoValue]) -> tuple[Decimal | None, NoValue | None]:
    if raw in codes:
        return None, codes[raw]
    return Decimal(raw).scaleb(-1), None


def _current_raw(amps: Decimal | None, missing: NoValue | None, codes: dict[int, NoValue]) -> int:
    if amps is None:
        return next(raw for raw, reason in codes.items() if reason is missing)
    return int(amps.scaleb(1))


def _check_current(amps: Decimal | None, missing: NoValue | None, codes: dict[int, NoValue], phase: str) -> None:
    if (amps is None) == (missing is None):
        raise PropertyError(f"{phase} phase current needs exactly one of a value and a missing reason")
    if amps is None:
        if missing not in codes.values():
            raise PropertyError(f"{phase} phase current cannot be missing for reason {missing!r}")
        return
    if not isinstance(amps, Decimal) or not amps.is_finite() or amps.scaleb(1) != amps.scaleb(1).to_integral_value():
        raise PropertyError(f"{phase} phase current {amps!r} must be a Decimal in steps of 0.1 A")
    _range(int(amps.scaleb(1)), -0x7FFF, 0x7FFD, f"{phase} phase current (0.1 A)")


@dataclass(frozen=True, slots=True)
class InstantCurrents:
    """0xE8: R and T phase currents in A (0.1 A steps).

    T = 0x7FFE means single-phase two-wire service (``t_missing`` is ``NOT_APPLICABLE``).
    """

    r: Decimal | None
    t: Decimal | None
    r_missing: NoValue | None = None
    t_missing: NoValue | None = None

    def __post_init__(self) -> None:
        _check_current(self.r, self.r_missing, _R_CODES, "R")
        _check_current(self.t, self.t_missing, _T_CODES, "T")

    @property
    def single_phase_two_wire(self) -> bool:
        return self.t_missing is NoValue.NOT_APPLICABLE

    @classmethod
    def decode(cls, edt: bytes) -> InstantCurrents:
        _size(edt, 4, "instantaneous currents")
        r, r_missing = _current(int.from_bytes(edt[0:2], "big", signed=True), _R_CODES)
        t, t_missing = _current(int.from_bytes(edt[2:4], "big", signed=True), _T_CODES)
        return cls(r, t, r_missing, t_missing)

    def encode(self) -> bytes:
        r = _current_raw(self.r, self.r_missing, _R_CODES)
        t = _current_raw(self.t, self.t_missing, _T_CODES)
        return r.to_bytes(2, "big", signed=True) + t.to_bytes(2, "big", signed=True)


@dataclass(frozen=True, slots=True)
class FixedTimeEnergy:
    """0xEA/0xEB: YYYY MM DD hh mm ss (a 30-minute boundary) + raw count (``None`` = no data)."""

    at: datetime
    raw: int | None

    def __post_init__(self) -> None:
        _check_datetime(self.at, "fixed-time energy time", seconds=True)
        _check_energy(self.raw, "fixed-time energy count")

    @classmethod
    def decode(cls, edt: bytes) -> FixedTimeEnergy:
        _size(edt, 11, "cumulative energy at fixed time")
        return cls(_read_datetime(edt, "fixed-time energy time", True), _energy(edt[7:11]))

    def encode(self) -> bytes:
        return _write_datetime(self.at, True) + _energy_bytes(self.raw)


@dataclass(frozen=True, slots=True)
class EnergyHistory:
    """0xEC/0xEE: newest time YYYY MM DD hh mm, then n (normal, reverse) raw-count pairs, newest first.

    Pair ``i`` belongs to ``start - i * STEP``. Subclasses fix STEP and the maximum n.
    """

    if TYPE_CHECKING:  # class constants of the subclasses, not fields (see logger/typehints.py)
        STEP: ClassVar[timedelta]
        MAX_POINTS: ClassVar[int]
        NAME: ClassVar[str]

    start: datetime
    pairs: tuple[tuple[int | None, int | None], ...]

    def __post_init__(self) -> None:
        _check_datetime(self.start, f"{self.NAME} time", seconds=False)
        if not 1 <= len(self.pairs) <= self.MAX_POINTS:
            raise PropertyError(f"{self.NAME} carries 1-{self.MAX_POINTS} points, got {len(self.pairs)}")
        for pair in self.pairs:
            if len(pair) != 2:
                raise PropertyError(f"{self.NAME} points are (normal, reverse) pairs, got {pair!r}")
            _check_energy(pair[0], f"{self.NAME} normal count")
            _check_energy(pair[1], f"{self.NAME} reverse count")

    def points(self) -> list[tuple[datetime, int | None, int | None]]:
        """(meter local time, normal, reverse) per point, newest first."""
        return [(self.start - i * self.STEP, n, r) for i, (n, r) in enumerate(self.pairs)]

    @classmethod
    def decode(cls, edt: bytes) -> EnergyHistory:
        if len(edt) < 7:
            raise PropertyError(f"{cls.NAME} needs at least 7 bytes of EDT, got {len(edt)}")
        count = edt[6]
        if not 1 <= count <= cls.MAX_POINTS:
            raise PropertyError(f"{cls.NAME} point count {count} is out of range 1-{cls.MAX_POINTS}")
        _size(edt, 7 + 8 * count, f"{cls.NAME} with {count} points")
        pairs = tuple(
            (_energy(edt[7 + 8 * i : 11 + 8 * i]), _energy(edt[11 + 8 * i : 15 + 8 * i])) for i in range(count)
        )
        return cls(_read_datetime(edt, f"{cls.NAME} time", False), pairs)

    def encode(self) -> bytes:
        body = b"".join(_energy_bytes(n) + _energy_bytes(r) for n, r in self.pairs)
        return _write_datetime(self.start, False) + bytes((len(self.pairs),)) + body


class HalfHourlyHistory(EnergyHistory):
    """0xEC: historical cumulative energy 2 (30-minute steps, 1-12 points)."""

    __slots__ = ()

    STEP = timedelta(minutes=30)
    MAX_POINTS = 12
    NAME = "historical energy 2"


class MinuteHistory(EnergyHistory):
    """0xEE: historical cumulative energy 3 (1-minute steps, 1-10 points)."""

    __slots__ = ()

    STEP = timedelta(minutes=1)
    MAX_POINTS = 10
    NAME = "historical energy 3"


@dataclass(frozen=True, slots=True)
class HistoryTime:
    """0xED/0xEF: newest time YYYY MM DD hh mm + point count; ``at`` is ``None`` when not set (year 0xFFFF).

    When not set the count byte is kept as received (it has no meaning then).
    """

    if TYPE_CHECKING:  # class constants of the subclasses, not fields (see logger/typehints.py)
        MAX_POINTS: ClassVar[int]
        NAME: ClassVar[str]

    at: datetime | None
    count: int

    def __post_init__(self) -> None:
        if self.at is None:
            _range(self.count, 0, 0xFF, f"{self.NAME} count")
            return
        _check_datetime(self.at, self.NAME, seconds=False)
        _range(self.count, 1, self.MAX_POINTS, f"{self.NAME} count")

    @classmethod
    def decode(cls, edt: bytes) -> HistoryTime:
        _size(edt, 7, cls.NAME)
        if _u(edt[0:2]) == 0xFFFF:
            return cls(None, edt[6])
        return cls(_read_datetime(edt, cls.NAME, False), edt[6])

    def encode(self) -> bytes:
        when = b"\xff" * 6 if self.at is None else _write_datetime(self.at, False)
        return when + bytes((self.count,))


class HalfHourlyHistoryTime(HistoryTime):
    """0xED: time for historical data 2 (count 1-12)."""

    __slots__ = ()

    MAX_POINTS = 12
    NAME = "time for historical data 2"


class MinuteHistoryTime(HistoryTime):
    """0xEF: time for historical data 3 (count 1-10)."""

    __slots__ = ()

    MAX_POINTS = 10
    NAME = "time for historical data 3"


# --------------------------------------------------------------------------------- node profile, unknown


MAX_INSTANCES = 84  # 1 + 3 * 84 = 253 bytes, the most that fits in one EDT


@dataclass(frozen=True, slots=True)
class InstanceList:
    """Node profile 0xD5/0xD6: count + count x 3-byte EOJ."""

    eojs: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.eojs) > MAX_INSTANCES:
            raise PropertyError(f"instance list holds at most {MAX_INSTANCES} EOJs, got {len(self.eojs)}")
        for eoj in self.eojs:
            _range(eoj, 0, 0xFFFFFF, "EOJ")

    def __repr__(self) -> str:
        return f"InstanceList({' '.join(f'{e:06X}' for e in self.eojs)})"

    @classmethod
    def decode(cls, edt: bytes) -> InstanceList:
        if not edt:
            raise PropertyError("instance list needs at least the count byte, got an empty EDT")
        _size(edt, 1 + 3 * edt[0], f"instance list of {edt[0]} EOJ(s)")
        return cls(tuple(_u(edt[1 + 3 * i : 4 + 3 * i]) for i in range(edt[0])))

    def encode(self) -> bytes:
        return bytes((len(self.eojs),)) + b"".join(e.to_bytes(3, "big") for e in self.eojs)


@dataclass(frozen=True, slots=True)
class RawValue:
    """A property this module does not interpret: the EDT as received."""

    edt: bytes

    def __post_init__(self) -> None:
        if len(self.edt) > 0xFF:
            raise PropertyError(f"EDT is at most 255 bytes, got {len(self.edt)}")

    def __repr__(self) -> str:
        return f"RawValue({self.edt.hex().upper() or '-'})"

    @classmethod
    def decode(cls, edt: bytes) -> RawValue:
        return cls(bytes(edt))

    def encode(self) -> bytes:
        return self.edt
