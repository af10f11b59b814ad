"""Low-voltage smart electric energy meter, class 0x028801 (sans-I/O).

* :func:`decode` / :func:`encode` — EDT bytes <-> typed frozen values (:mod:`logger.echonet.values`);
  :func:`decode_node_profile` / :func:`encode_node_profile` for the node profile 0x0EF001.
* :class:`MeterContext` — what energy scaling needs: coefficient (D3), unit (E1), digits (D7).
* :func:`samples` — values -> :class:`Sample` rows with exact ``Decimal`` arithmetic.
* :func:`counter_delta` — difference of two raw counts across the 10**digits wrap.
* :data:`PROPERTIES` — EPC -> short English name and unit, for logs and docs.

Typical use for one Get_Res / INF frame: ``ctx.observe`` every property first (D3/E1/D7 may arrive in
the same frame as E0), then ``samples`` each one. Get_SNA answers (PDC 0) are not values: tell the
context with :meth:`MeterContext.observe_unavailable` instead of calling :func:`decode`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from logger.echonet.values import (
    Coefficient,
    CumulativeEnergy,
    CurrentDate,
    CurrentTime,
    DailyHistory,
    EffectiveDigits,
    EnergyHistory,
    EnergyUnit,
    FaultStatus,
    FixedTimeEnergy,
    HalfHourlyHistory,
    HalfHourlyHistoryTime,
    HistoryDay,
    IdentificationNumber,
    InstallationLocation,
    InstanceList,
    InstantCurrents,
    InstantPower,
    ManufacturerCode,
    MinuteHistory,
    MinuteHistoryTime,
    NoValue,
    OneMinuteEnergy,
    OperationStatus,
    ProductionNumber,
    PropertyError,
    PropertyMap,
    RawValue,
    RouteBId,
    StandardVersion,
)

__all__ = [
    "NODE_PROFILE_PROPERTIES",
    "PROPERTIES",
    "MeterContext",
    "NeedsContext",
    "NoValue",
    "PropertyError",
    "PropertyInfo",
    "Sample",
    "counter_delta",
    "decode",
    "decode_node_profile",
    "encode",
    "encode_node_profile",
    "property_name",
    "samples",
]


@dataclass(frozen=True, slots=True)
class PropertyInfo:
    """A meter property's short English name and unit, for logs and docs."""

    name: str
    unit: str  # "" when the property has no unit


PROPERTIES: dict[int, PropertyInfo] = {
    0x80: PropertyInfo("operation status", ""),
    0x81: PropertyInfo("installation location", ""),
    0x82: PropertyInfo("standard version", ""),
    0x83: PropertyInfo("identification number", ""),
    0x88: PropertyInfo("fault status", ""),
    0x8A: PropertyInfo("manufacturer code", ""),
    0x8D: PropertyInfo("production number", ""),
    0x97: PropertyInfo("current time", ""),
    0x98: PropertyInfo("current date", ""),
    0x9C: PropertyInfo("GetM property map", ""),
    0x9D: PropertyInfo("status-change announcement property map", ""),
    0x9E: PropertyInfo("Set property map", ""),
    0x9F: PropertyInfo("Get property map", ""),
    0xC0: PropertyInfo("route B ID", ""),
    0xD0: PropertyInfo("one-minute cumulative energy (normal, reverse)", "kWh"),
    0xD3: PropertyInfo("coefficient", ""),
    0xD7: PropertyInfo("effective digits of cumulative energy", "digits"),
    0xE0: PropertyInfo("cumulative energy, normal direction", "kWh"),
    0xE1: PropertyInfo("unit of cumulative energy", "kWh"),
    0xE2: PropertyInfo("historical cumulative energy 1, normal direction", "kWh"),
    0xE3: PropertyInfo("cumulative energy, reverse direction", "kWh"),
    0xE4: PropertyInfo("historical cumulative energy 1, reverse direction", "kWh"),
    0xE5: PropertyInfo("day for historical data 1", "days ago"),
    0xE7: PropertyInfo("instantaneous power", "W"),
    0xE8: PropertyInfo("instantaneous currents (R, T)", "A"),
    0xEA: PropertyInfo("cumulative energy at fixed time, normal direction", "kWh"),
    0xEB: PropertyInfo("cumulative energy at fixed time, reverse direction", "kWh"),
    0xEC: PropertyInfo("historical cumulative energy 2 (30-minute, normal and reverse)", "kWh"),
    0xED: PropertyInfo("time for historical data 2", ""),
    0xEE: PropertyInfo("historical cumulative energy 3 (1-minute, normal and reverse)", "kWh"),
    0xEF: PropertyInfo("time for historical data 3", ""),
}
"""Meter (0x028801) EPC -> name and unit. E1's unit is what one count is worth."""

NODE_PROFILE_PROPERTIES: dict[int, PropertyInfo] = {
    0xD5: PropertyInfo("instance list notification", ""),
    0xD6: PropertyInfo("self-node instance list S", ""),
}


def property_name(epc: int, node_profile: bool = False) -> str:
    """A short English name for logs; unknown EPCs read ``EPC 0xNN``."""
    table = NODE_PROFILE_PROPERTIES if node_profile else PROPERTIES
    info = table.get(epc)
    return info.name if info else f"EPC 0x{epc:02X}"


_METER_CODECS: dict[int, type] = {
    0x80: OperationStatus,
    0x81: InstallationLocation,
    0x82: StandardVersion,
    0x83: IdentificationNumber,
    0x88: FaultStatus,
    0x8A: ManufacturerCode,
    0x8D: ProductionNumber,
    0x97: CurrentTime,
    0x98: CurrentDate,
    0x9C: PropertyMap,
    0x9D: PropertyMap,
    0x9E: PropertyMap,
    0x9F: PropertyMap,
    0xC0: RouteBId,
    0xD0: OneMinuteEnergy,
    0xD3: Coefficient,
    0xD7: EffectiveDigits,
    0xE0: CumulativeEnergy,
    0xE1: EnergyUnit,
    0xE2: DailyHistory,
    0xE3: CumulativeEnergy,
    0xE4: DailyHistory,
    0xE5: HistoryDay,
    0xE7: InstantPower,
    0xE8: InstantCurrents,
    0xEA: FixedTimeEnergy,
    0xEB: FixedTimeEnergy,
    0xEC: HalfHourlyHistory,
    0xED: HalfHourlyHistoryTime,
    0xEE: MinuteHistory,
    0xEF: MinuteHistoryTime,
}
_NODE_PROFILE_CODECS: dict[int, type] = {0xD5: InstanceList, 0xD6: InstanceList}


def _decode(epc: int, edt: bytes, codecs: dict[int, type], what: str) -> object:
    if not 0 <= epc <= 0xFF:
        raise PropertyError(f"EPC {epc!r} is not one byte")
    codec = codecs.get(epc, RawValue)
    try:
        return codec.decode(bytes(edt))
    except PropertyError as exc:
        name = property_name(epc, node_profile=codecs is _NODE_PROFILE_CODECS)
        raise PropertyError(f"{what} EPC {epc:02X} ({name}): {exc}") from None


def _encode(epc: int, value: object, codecs: dict[int, type]) -> bytes:
    expected = codecs.get(epc, RawValue)
    if type(value) is not expected and type(value) is not RawValue:
        raise TypeError(f"EPC {epc:02X} takes a {expected.__name__} (or RawValue), got {type(value).__name__}")
    return value.encode()  # type: ignore[attr-defined]  # every codec has encode()


def decode(epc: int, edt: bytes) -> object:
    """The typed value of meter property ``epc``; unknown EPCs give :class:`RawValue`.

    Raises :class:`PropertyError` (a ``FrameError``) when the EDT does not fit the property.
    An empty EDT (Get request, Get_SNA) is not a value and raises too.
    """
    return _decode(epc, edt, _METER_CODECS, "meter")


def encode(epc: int, value: object) -> bytes:
    """The EDT of ``value`` for meter property ``epc`` (inverse of :func:`decode`).

    ``value`` must be the type :func:`decode` gives for ``epc``, or a :class:`RawValue` (any bytes, e.g.
    for a simulator sending a malformed property); anything else is a ``TypeError``.
    """
    return _encode(epc, value, _METER_CODECS)


def decode_node_profile(epc: int, edt: bytes) -> object:
    """Node profile (0x0EF001) properties: D5/D6 -> :class:`InstanceList`, others :class:`RawValue`."""
    return _decode(epc, edt, _NODE_PROFILE_CODECS, "node profile")


def encode_node_profile(epc: int, value: object) -> bytes:
    return _encode(epc, value, _NODE_PROFILE_CODECS)


# --------------------------------------------------------------------------------- context and samples


class NeedsContext(Exception):
    """Energy cannot be scaled yet: the meter context lacks what this EPC needs (never guessed)."""

    def __init__(self, epc: int, missing: str) -> None:
        self.epc = epc
        self.missing = missing
        super().__init__(
            f"EPC {epc:02X} ({property_name(epc)}) cannot be converted to kWh before {missing} is known; "
            "read E1 (and D3) from the meter first"
        )


@dataclass
class MeterContext:
    """Scaling facts of one meter. ``generation`` goes up whenever coefficient, unit or digits change,
    so a consumer can notice that later energy values are on a different scale."""

    coefficient: int = 1
    coefficient_known: bool = False
    unit: Decimal | None = None
    digits: int | None = None
    generation: int = 0

    @property
    def scale(self) -> Decimal | None:
        """kWh per raw count (coefficient x unit), ``None`` while E1 is unknown."""
        return None if self.unit is None else self.unit * self.coefficient

    def _set(self, coefficient: int, unit: Decimal | None, digits: int | None) -> bool:
        changed = (coefficient, unit, digits) != (self.coefficient, self.unit, self.digits)
        self.coefficient, self.unit, self.digits = coefficient, unit, digits
        if changed:
            self.generation += 1
        return changed

    def observe(self, epc: int, value: object) -> bool:
        """Learn from a decoded meter property; True when the scale (coefficient/unit/digits) changed."""
        if epc == 0xD3 and isinstance(value, Coefficient):
            self.coefficient_known = True
            return self._set(value.value, self.unit, self.digits)
        if epc == 0xE1 and isinstance(value, EnergyUnit):
            return self._set(self.coefficient, value.kwh, self.digits)
        if epc == 0xD7 and isinstance(value, EffectiveDigits):
            return self._set(self.coefficient, self.unit, value.value)
        return False

    def observe_unavailable(self, epc: int) -> bool:
        """The meter answered Get_SNA (PDC 0) for ``epc``. A missing D3 means coefficient 1 (known)."""
        if epc == 0xD3:
            self.coefficient_known = True
            return self._set(1, self.unit, self.digits)
        return False


@dataclass(frozen=True, slots=True)
class Sample:
    """One number to record. ``at`` is the meter's local (naive) time when the property carries one,
    else ``None`` (= when the reading was taken)."""

    epc: str
    dataid: str
    value: Decimal
    unit: str
    at: datetime | None = None


def _kwh(epc: int, raw: int, ctx: MeterContext) -> Decimal:
    if ctx.unit is None:
        raise NeedsContext(epc, "the energy unit (E1)")
    return Decimal(raw * ctx.coefficient) * ctx.unit


def samples(epc: int, value: object, ctx: MeterContext, *, today: date | None = None) -> list[Sample]:
    """The numbers in a decoded meter property. Sentinels give no sample; non-numeric properties none.

    Energy needs ``ctx.unit`` (raises :class:`NeedsContext` otherwise). E2/E4 need ``today``: the
    meter's local date of "day 0".
    """
    tag = f"{epc:02X}"
    if isinstance(value, InstantPower):
        return [] if value.watts is None else [Sample(tag, "", Decimal(value.watts), "W")]
    if isinstance(value, InstantCurrents):
        out = [Sample(tag, "R", value.r, "A")] if value.r is not None else []
        return out + ([Sample(tag, "T", value.t, "A")] if value.t is not None else [])
    if isinstance(value, CumulativeEnergy):
        return [] if value.raw is None else [Sample(tag, "", _kwh(epc, value.raw, ctx), "kWh")]
    if isinstance(value, FixedTimeEnergy):
        return [] if value.raw is None else [Sample(tag, "", _kwh(epc, value.raw, ctx), "kWh", value.at)]
    if isinstance(value, DailyHistory):
        if today is None:
            raise ValueError(f"EPC {tag} samples need today= (the meter's local date of day 0)")
        return [Sample(tag, "", _kwh(epc, raw, ctx), "kWh", at) for at, raw in value.points(today) if raw is not None]
    if isinstance(value, EnergyHistory):
        return _pairs(epc, value.points(), ctx)
    if isinstance(value, OneMinuteEnergy):
        return _pairs(epc, [(value.at, value.normal, value.reverse)], ctx)
    if isinstance(value, Coefficient):
        return [Sample(tag, "", Decimal(value.value), "")]
    if isinstance(value, EffectiveDigits):
        return [Sample(tag, "", Decimal(value.value), "digits")]
    if isinstance(value, EnergyUnit):
        return [Sample(tag, "", value.kwh, "kWh")]
    return []


def _pairs(epc: int, points: Iterable[tuple[datetime, int | None, int | None]], ctx: MeterContext) -> list[Sample]:
    out = []
    for at, normal, reverse in points:
        if normal is not None:
            out.append(Sample(f"{epc:02X}", "normal", _kwh(epc, normal, ctx), "kWh", at))
        if reverse is not None:
            out.append(Sample(f"{epc:02X}", "reverse", _kwh(epc, reverse, ctx), "kWh", at))
    return out


def counter_delta(new_raw: int, old_raw: int, digits: int) -> int:
    """``new_raw - old_raw`` for a counter that wraps from ``10**digits - 1`` to 0 (always >= 0)."""
    if not 1 <= digits <= 8:
        raise ValueError(f"digits {digits!r} is out of range 1-8 (D7)")
    modulus = 10**digits
    for name, raw in (("new_raw", new_raw), ("old_raw", old_raw)):
        if not 0 <= raw < modulus:
            raise ValueError(f"{name} {raw} does not fit a {digits}-digit counter (0-{modulus - 1})")
    return (new_raw - old_raw) % modulus
