"""Meter class 0x028801: property decoding/encoding, context, samples, counter wrap."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logger.echonet.frame import FrameError
from logger.echonet.meter import (
    PROPERTIES,
    MeterContext,
    NeedsContext,
    PropertyError,
    Sample,
    counter_delta,
    decode,
    decode_node_profile,
    encode,
    encode_node_profile,
    property_name,
    samples,
)
from logger.echonet.values import (
    NO_ENERGY,
    Coefficient,
    CumulativeEnergy,
    CurrentDate,
    CurrentTime,
    DailyHistory,
    EffectiveDigits,
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
    PropertyMap,
    RawValue,
    RouteBId,
    StandardVersion,
)

H = bytes.fromhex


def u32(v: int) -> bytes:
    return v.to_bytes(4, "big")


# ------------------------------------------------------------------------------------------ sizes


#: A valid EDT for every EPC in the facts table.
GOOD_EDT = {
    0x80: H("30"),
    0x81: H("08"),
    0x82: H("00004600"),
    0x83: H("FE000016") + bytes(range(13)),
    0x88: H("42"),
    0x8A: H("000016"),
    0x8D: b"ABC123456\x00\x00\x00",
    0x97: H("0A1E"),
    0x98: H("07EA0B16"),
    0x9C: H("00"),
    0x9D: H("03808188"),
    0x9E: H("0281E5"),
    0x9F: H("0380E0E7"),
    0xC0: H("00000016") + bytes(12),
    0xD0: H("07EA0B160A1E00") + u32(1) + u32(2),
    0xD3: u32(1),
    0xD7: H("06"),
    0xE0: u32(336213),
    0xE1: H("01"),
    0xE2: H("0000") + u32(1) * 48,
    0xE3: u32(5),
    0xE4: H("0001") + u32(1) * 48,
    0xE5: H("00"),
    0xE7: H("FFFFF856"),
    0xE8: H("00000082"),
    0xEA: H("07EA0B160A0000") + u32(10),
    0xEB: H("07EA0B160A0000") + u32(11),
    0xEC: H("07EA0B160A0001") + u32(1) + u32(2),
    0xED: H("07EA0B160A0001"),
    0xEE: H("07EA0B160A0001") + u32(1) + u32(2),
    0xEF: H("07EA0B160A0001"),
}

#: EPCs whose EDT has one fixed size (everything except the variable ones).
VARIABLE = {0x81, 0x9C, 0x9D, 0x9E, 0x9F, 0xC0, 0xEC, 0xEE}


def test_every_table_epc_has_a_name_and_a_good_sample():
    assert set(GOOD_EDT) == set(PROPERTIES)
    for epc, edt in GOOD_EDT.items():
        value = decode(epc, edt)
        assert not isinstance(value, RawValue), hex(epc)
        assert encode(epc, value) == edt, hex(epc)


@pytest.mark.parametrize("epc", sorted(set(GOOD_EDT) - VARIABLE))
def test_wrong_size_is_property_error(epc):
    edt = GOOD_EDT[epc]
    for bad in (edt[:-1], edt + b"\x00", b""):
        with pytest.raises(PropertyError) as info:
            decode(epc, bad)
        assert f"EPC {epc:02X}" in str(info.value)
        assert "byte" in str(info.value)
        assert isinstance(info.value, FrameError)


@pytest.mark.parametrize("epc", sorted(VARIABLE))
def test_variable_sized_properties_reject_empty_and_truncated(epc):
    with pytest.raises(PropertyError):
        decode(epc, b"")
    if epc != 0xC0:
        with pytest.raises(PropertyError):
            decode(epc, GOOD_EDT[epc][:-1] if epc != 0x9C else b"\x01")


def test_unknown_epc_is_raw_value_not_error():
    value = decode(0xF0, H("0102"))
    assert value == RawValue(H("0102"))
    assert encode(0xF0, value) == H("0102")
    assert property_name(0xF0) == "EPC 0xF0"
    assert decode(0xF1, b"") == RawValue(b"")


def test_encode_rejects_the_wrong_value_type():
    with pytest.raises(TypeError, match="E7 takes a InstantPower"):
        encode(0xE7, CumulativeEnergy(1))
    with pytest.raises(TypeError):
        encode(0xEC, MinuteHistory(datetime(2026, 1, 1), ((1, 2),)))


# ------------------------------------------------------------------------------------------ super class


def test_operation_and_fault_status():
    assert decode(0x80, H("30")).on is True
    assert decode(0x80, H("31")).on is False
    assert decode(0x88, H("41")).fault is True
    assert decode(0x88, H("42")).fault is False
    for epc, code in ((0x80, "32"), (0x88, "40")):
        with pytest.raises(PropertyError, match=f"EPC {epc:02X}"):
            decode(epc, H(code))


@pytest.mark.parametrize(
    "code, location, name, room, text",
    [
        (0x08, 1, "living room", 0, "living room 0"),
        (0x0B, 1, "living room", 3, "living room 3"),
        (0x41, 8, "room", 1, "room 1"),
        (0x7F, 15, "other", 7, "other 7"),
        (0x60, 12, "garden/perimeter", 0, "garden/perimeter 0"),
    ],
)
def test_installation_location_codes(code, location, name, room, text):
    value = decode(0x81, bytes((code,)))
    assert (value.location, value.location_name, value.room, str(value)) == (location, name, room, text)
    assert value.is_set


def test_installation_location_special_codes_and_free_form():
    not_set = decode(0x81, H("00"))
    assert not not_set.is_set and not_set.location is None and str(not_set) == "not set"
    undetermined = decode(0x81, H("FF"))
    assert undetermined.undetermined and undetermined.location is None
    user = decode(0x81, H("80"))
    assert user.user_defined and user.location is None and "user-defined" in str(user)
    reserved = decode(0x81, H("03"))  # location code 0 is reserved
    assert reserved.location is None and reserved.room is None
    free = decode(0x81, H("01") + bytes(range(16)))
    assert free.free_form == bytes(range(16)) and free.location is None
    assert encode(0x81, free) == H("01") + bytes(range(16))
    with pytest.raises(PropertyError, match="start with 0x01"):
        decode(0x81, H("02") + bytes(16))
    with pytest.raises(PropertyError, match="1 or 17"):
        decode(0x81, H("0101"))


def test_standard_version_ident_maker_production_number():
    v = decode(0x82, H("00004600"))
    assert (v.release, v.revision, str(v)) == ("F", 0, "Release F rev 0")
    ident = decode(0x83, GOOD_EDT[0x83])
    assert (ident.scheme, ident.manufacturer, ident.unique) == (0xFE, 0x16, bytes(range(13)))
    assert str(decode(0x8A, H("000016"))) == "000016"
    assert decode(0x8D, GOOD_EDT[0x8D]).text == "ABC123456"
    assert decode(0x8D, b"XYZ         ").text == "XYZ"


def test_current_time_and_date():
    assert decode(0x97, H("0A1E")).value == time(10, 30)
    assert decode(0x98, H("07EA0B16")).value == date(2026, 11, 22)
    for epc, edt in ((0x97, "183C"), (0x97, "0A3C"), (0x98, "07EA0D01"), (0x98, "07E9021D"), (0x98, "00000101")):
        with pytest.raises(PropertyError, match="not a valid"):
            decode(epc, H(edt))


def test_property_map_list_form():
    value = decode(0x9D, H("03808188"))
    assert value.epcs == {0x80, 0x81, 0x88}
    assert 0x81 in value and 0xE7 not in value
    assert repr(value) == "PropertyMap(80 81 88)"
    assert decode(0x9C, H("00")).epcs == frozenset()
    for bad, why in (("0280", "3 byte"), ("028080", "twice"), ("0112", "outside")):
        with pytest.raises(PropertyError, match=why):
            decode(0x9F, H(bad))


#: Get property map (0x9F) of a real meter, 16+ properties: bitmap form.
REAL_GET_EPCS = {
    0x80,
    0x81,
    0x82,
    0x88,
    0x8A,
    0x8D,
    0x97,
    0x98,
    0x9D,
    0x9E,
    0x9F,
    0xD3,
    0xD7,
    0xE0,
    0xE1,
    0xE2,
    0xE3,
    0xE4,
    0xE5,
    0xE7,
    0xE8,
    0xEA,
    0xEB,
    0xEC,
    0xED,
}


def _bitmap(epcs):
    bitmap = bytearray(16)
    for epc in epcs:
        low, high = epc & 0x0F, (epc >> 4) - 8
        bitmap[low] |= 1 << high
    return bytes((len(epcs),)) + bytes(bitmap)


def test_property_map_bitmap_form():
    edt = _bitmap(REAL_GET_EPCS)
    assert len(edt) == 17
    # byte i bit j means EPC 0x80 + 0x10*j + i: E7 is byte 7, bit 6
    assert edt[1 + 7] & 0x40
    value = decode(0x9F, edt)
    assert value.epcs == REAL_GET_EPCS
    assert encode(0x9F, value) == edt
    every = decode(0x9F, b"\x80" + b"\xff" * 16)
    assert every.epcs == frozenset(range(0x80, 0x100))
    with pytest.raises(PropertyError, match="bits set"):
        decode(0x9F, b"\x11" + edt[1:])
    with pytest.raises(PropertyError, match="17 byte"):
        decode(0x9F, edt[:-1])


def test_property_map_switches_encoding_at_16():
    fifteen = PropertyMap(frozenset(range(0x80, 0x8F)))
    sixteen = PropertyMap(frozenset(range(0x80, 0x90)))
    assert len(encode(0x9F, fifteen)) == 16 and encode(0x9F, fifteen)[1:] == bytes(range(0x80, 0x8F))
    assert encode(0x9F, sixteen) == b"\x10" + b"\x01" * 16  # 0x80-0x8F: bit 0 of every byte


# ------------------------------------------------------------------------------------------ meter class


def test_route_b_id_never_shows_the_identifier():
    secret = b"0123456789AB"
    value = decode(0xC0, H("00000016") + secret)
    assert value.manufacturer == 0x16
    for text in (repr(value), str(value), repr([value])):
        assert "0123456789AB" not in text and secret.hex() not in text.lower()
        assert "000016" in text
    assert encode(0xC0, value) == H("00000016") + secret
    with pytest.raises(PropertyError, match="at least 4"):
        decode(0xC0, H("000016"))


def test_one_minute_energy_d0():
    value = decode(0xD0, H("07EA0B160A1F00") + u32(38712) + u32(NO_ENERGY))
    assert value == OneMinuteEnergy(datetime(2026, 11, 22, 10, 31), 38712, None)
    with pytest.raises(PropertyError, match="not a valid date"):
        decode(0xD0, H("07EA0B1F0A1F00") + u32(1) + u32(1))  # 31 November


def test_coefficient_digits_unit_day():
    assert decode(0xD3, u32(10)).value == 10
    assert decode(0xD3, H("000F423F")).value == 999999
    for bad in (0, 1_000_000):
        with pytest.raises(PropertyError, match="coefficient"):
            decode(0xD3, u32(bad))
    assert decode(0xD7, H("08")).value == 8
    for bad in ("00", "09"):
        with pytest.raises(PropertyError, match="effective digits"):
            decode(0xD7, H(bad))
    with pytest.raises(PropertyError, match="unit code"):
        decode(0xE1, H("05"))
    assert decode(0xE5, H("63")).day == 99
    with pytest.raises(PropertyError, match="0-99"):
        decode(0xE5, H("64"))


def test_cumulative_energy_e0_e3():
    assert decode(0xE0, H("00052155")) == CumulativeEnergy(336213)
    assert decode(0xE3, u32(NO_ENERGY)) == CumulativeEnergy(None)
    assert encode(0xE3, CumulativeEnergy(None)) == u32(NO_ENERGY)
    assert decode(0xE0, H("FFFFFFFF")).raw == 0xFFFFFFFF


def test_daily_history_e2_e4():
    slots = [1000 + i for i in range(20)] + [NO_ENERGY] * 28
    edt = H("0001") + b"".join(u32(s) for s in slots)
    value = decode(0xE2, edt)
    assert value.day == 1
    assert value.slots[:2] == (1000, 1001) and value.slots[20:] == (None,) * 28
    assert encode(0xE2, value) == edt
    with pytest.raises(PropertyError, match="0-99"):
        decode(0xE4, H("0064") + u32(0) * 48)
    with pytest.raises(PropertyError, match="194"):
        decode(0xE4, H("0000") + u32(0) * 47)


@pytest.mark.parametrize(
    "edt, watts, missing",
    [
        ("FFFFF856", -1962, None),
        ("0000055E", 1374, None),
        ("00000000", 0, None),
        ("7FFFFFFD", 2147483645, None),
        ("80000001", -2147483647, None),
        ("7FFFFFFE", None, NoValue.NO_DATA),
        ("7FFFFFFF", None, NoValue.OVERFLOW),
        ("80000000", None, NoValue.UNDERFLOW),
    ],
)
def test_instant_power_e7(edt, watts, missing):
    value = decode(0xE7, H(edt))
    assert (value.watts, value.missing) == (watts, missing)
    assert encode(0xE7, value) == H(edt)
    expected = [] if watts is None else [Sample("E7", "", Decimal(watts), "W", None)]
    assert samples(0xE7, value, MeterContext()) == expected


@pytest.mark.parametrize(
    "edt, r, t, r_missing, t_missing",
    [
        ("00000082", "0.0", "13.0", None, None),
        ("00280028", "4.0", "4.0", None, None),
        ("FFF60001", "-1.0", "0.1", None, None),
        ("7FFD8001", "3276.5", "-3276.7", None, None),
        ("00327FFE", "5.0", None, None, NoValue.NOT_APPLICABLE),
        ("7FFE0010", None, "1.6", NoValue.NO_DATA, None),
        ("7FFF7FFF", None, None, NoValue.OVERFLOW, NoValue.OVERFLOW),
        ("80008000", None, None, NoValue.UNDERFLOW, NoValue.UNDERFLOW),
    ],
)
def test_instant_currents_e8(edt, r, t, r_missing, t_missing):
    value = decode(0xE8, H(edt))
    assert value.r == (None if r is None else Decimal(r))
    assert value.t == (None if t is None else Decimal(t))
    assert (value.r_missing, value.t_missing) == (r_missing, t_missing)
    assert value.single_phase_two_wire == (t_missing is NoValue.NOT_APPLICABLE)
    assert encode(0xE8, value) == H(edt)
    got = {(s.dataid, s.value, s.unit) for s in samples(0xE8, value, MeterContext())}
    want = {(d, Decimal(v), "A") for d, v in (("R", r), ("T", t)) if v is not None}
    assert got == want


def test_fixed_time_energy_ea_eb():
    value = decode(0xEA, H("07EA0B160A0000") + u32(38712))
    assert value == FixedTimeEnergy(datetime(2026, 11, 22, 10, 0), 38712)
    assert decode(0xEB, H("07EA0B160A0000") + u32(NO_ENERGY)).raw is None
    # month 0, hour 24, minute 60, second 60, year 0
    for bad in ("07EA000A0A0000", "07EA0B16180000", "07EA0B160A3C00", "07EA0B160A003C", "00000101000000"):
        with pytest.raises(PropertyError, match="not a valid date"):
            decode(0xEA, H(bad) + u32(1))


def test_energy_history_ec_and_ee():
    edt = H("07EA0B160A0003") + u32(300) + u32(30) + u32(200) + u32(NO_ENERGY) + u32(NO_ENERGY) + u32(10)
    ec = decode(0xEC, edt)
    assert ec == HalfHourlyHistory(datetime(2026, 11, 22, 10, 0), ((300, 30), (200, None), (None, 10)))
    assert [at for at, _, _ in ec.points()] == [
        datetime(2026, 11, 22, 10, 0),
        datetime(2026, 11, 22, 9, 30),
        datetime(2026, 11, 22, 9, 0),
    ]
    assert encode(0xEC, ec) == edt
    ee = decode(0xEE, edt)
    assert isinstance(ee, MinuteHistory)
    assert [at for at, _, _ in ee.points()][-1] == datetime(2026, 11, 22, 9, 58)
    assert decode(0xEC, H("07EA0B160A000C") + u32(1) * 24).pairs[-1] == (1, 1)
    with pytest.raises(PropertyError, match="1-10"):
        decode(0xEE, H("07EA0B160A000B") + u32(1) * 22)
    with pytest.raises(PropertyError, match="1-12"):
        decode(0xEC, H("07EA0B160A0000"))
    with pytest.raises(PropertyError, match="3 points"):
        decode(0xEC, edt[:-1])
    with pytest.raises(PropertyError, match="not a valid date"):
        decode(0xEC, H("07EA0B16180001") + u32(1) * 2)


def test_history_time_ed_ef():
    assert decode(0xED, H("07EA0B160A000C")) == HalfHourlyHistoryTime(datetime(2026, 11, 22, 10, 0), 12)
    assert decode(0xEF, H("07EA0B160A010A")) == MinuteHistoryTime(datetime(2026, 11, 22, 10, 1), 10)
    not_set = decode(0xED, H("FFFFFFFFFFFF01"))
    assert not_set.at is None and not_set.count == 1
    assert encode(0xED, not_set) == H("FFFFFFFFFFFF01")
    with pytest.raises(PropertyError, match="1-10"):
        decode(0xEF, H("07EA0B160A010B"))
    with pytest.raises(PropertyError, match="not a valid date"):
        decode(0xED, H("07EA02300A0001"))


def test_node_profile_instance_lists():
    value = decode_node_profile(0xD5, H("01028801"))
    assert value == InstanceList((0x028801,))
    assert repr(value) == "InstanceList(028801)"
    two = decode_node_profile(0xD6, H("0205FF01028801"))
    assert two.eojs == (0x05FF01, 0x028801)
    assert encode_node_profile(0xD6, two) == H("0205FF01028801")
    assert decode_node_profile(0xD5, H("00")).eojs == ()
    assert decode_node_profile(0x80, H("30")) == RawValue(H("30"))
    for bad in ("", "02028801", "010288", "0102880100"):
        with pytest.raises(PropertyError, match="node profile EPC D5"):
            decode_node_profile(0xD5, H(bad))


def test_value_objects_validate_on_construction():
    with pytest.raises(PropertyError):
        InstantPower(5, NoValue.NO_DATA)
    with pytest.raises(PropertyError):
        InstantPower(None, NoValue.NOT_APPLICABLE)
    with pytest.raises(PropertyError):
        InstantCurrents(Decimal("0.05"), Decimal(1))
    with pytest.raises(PropertyError):
        InstantCurrents(None, Decimal(1), NoValue.NOT_APPLICABLE)  # R cannot be "not applicable"
    with pytest.raises(PropertyError):
        CumulativeEnergy(NO_ENERGY)  # the sentinel is spelled None
    with pytest.raises(PropertyError):
        FixedTimeEnergy(datetime(2026, 1, 1, microsecond=5), 1)
    with pytest.raises(PropertyError):
        HalfHourlyHistory(datetime(2026, 1, 1, second=1), ((1, 1),))
    with pytest.raises(PropertyError):
        DailyHistory(0, (1,) * 47)


# ------------------------------------------------------------------------------------------ context


def test_context_defaults_and_observe():
    ctx = MeterContext()
    assert (ctx.coefficient, ctx.coefficient_known, ctx.unit, ctx.digits, ctx.scale) == (1, False, None, None, None)
    assert ctx.observe(0xE1, decode(0xE1, H("01"))) is True
    assert ctx.unit == Decimal("0.1") and ctx.generation == 1
    assert ctx.observe(0xE1, decode(0xE1, H("01"))) is False and ctx.generation == 1
    assert ctx.observe(0xD3, decode(0xD3, u32(1))) is False  # same scale, now known
    assert ctx.coefficient_known and ctx.generation == 1
    assert ctx.observe(0xD7, decode(0xD7, H("06"))) is True and ctx.digits == 6
    assert ctx.observe(0xE7, decode(0xE7, H("00000001"))) is False
    assert ctx.generation == 2


def test_context_scale_change_mid_run_is_visible():
    ctx = MeterContext()
    ctx.observe(0xE1, decode(0xE1, H("01")))
    before = ctx.generation
    assert ctx.observe(0xD3, decode(0xD3, u32(10))) is True
    assert ctx.generation == before + 1 and ctx.scale == Decimal("1.0")
    assert ctx.observe(0xE1, decode(0xE1, H("02"))) is True
    assert ctx.generation == before + 2 and ctx.scale == Decimal("0.10")


def test_context_get_sna_for_d3_means_coefficient_one():
    ctx = MeterContext()
    assert ctx.observe_unavailable(0xD3) is False
    assert (ctx.coefficient, ctx.coefficient_known) == (1, True)
    ctx.observe(0xD3, Coefficient(40))
    assert ctx.observe_unavailable(0xD3) is True and ctx.coefficient == 1
    assert ctx.observe_unavailable(0xE1) is False and ctx.unit is None


# ------------------------------------------------------------------------------------------ samples


@pytest.mark.parametrize(
    "code, raw, coefficient, expected",
    [
        (0x00, 38712, 1, "38712"),
        (0x01, 38712, 1, "3871.2"),
        (0x02, 38712, 1, "387.12"),
        (0x03, 38712, 1, "38.712"),
        (0x04, 38712, 1, "3.8712"),
        (0x0A, 38712, 1, "387120"),
        (0x0B, 38712, 1, "3871200"),
        (0x0C, 38712, 1, "38712000"),
        (0x0D, 38712, 1, "387120000"),
        (0x01, 38712, 40, "154848.0"),
        (0x02, 99999999, 999999, "999998990000.01"),
        (0x04, 1, 3, "0.0003"),
        (0x03, 123, 7, "0.861"),
    ],
)
def test_energy_is_exact_decimal(code, raw, coefficient, expected):
    ctx = MeterContext()
    ctx.observe(0xE1, EnergyUnit(code))
    ctx.observe(0xD3, Coefficient(coefficient))
    (sample,) = samples(0xE0, CumulativeEnergy(raw), ctx)
    assert sample == Sample("E0", "", Decimal(expected), "kWh", None)
    assert str(sample.value) == expected
    assert sample.value == Decimal(raw) * coefficient * EnergyUnit(code).kwh


def test_energy_without_unit_needs_context():
    with pytest.raises(NeedsContext, match="E1") as info:
        samples(0xE3, CumulativeEnergy(5), MeterContext())
    assert info.value.epc == 0xE3 and "E3" in str(info.value)
    assert samples(0xE0, CumulativeEnergy(None), MeterContext()) == []  # no data: nothing to scale


def _ctx(unit_code=0x01, coefficient=1):
    ctx = MeterContext()
    ctx.observe(0xE1, EnergyUnit(unit_code))
    ctx.observe(0xD3, Coefficient(coefficient))
    return ctx


def test_samples_fixed_time_and_histories():
    ctx = _ctx()
    at = datetime(2026, 11, 22, 10, 0)
    assert samples(0xEB, FixedTimeEnergy(at, 5), ctx) == [Sample("EB", "", Decimal("0.5"), "kWh", at)]
    assert samples(0xEA, FixedTimeEnergy(at, None), ctx) == []

    ec = HalfHourlyHistory(at, ((300, 30), (None, 20)))
    assert samples(0xEC, ec, ctx) == [
        Sample("EC", "normal", Decimal("30.0"), "kWh", at),
        Sample("EC", "reverse", Decimal("3.0"), "kWh", at),
        Sample("EC", "reverse", Decimal("2.0"), "kWh", at - timedelta(minutes=30)),
    ]
    ee = MinuteHistory(at, ((1, 2), (3, 4)))
    assert [s.at for s in samples(0xEE, ee, ctx)] == [at, at, at - timedelta(minutes=1), at - timedelta(minutes=1)]

    d0 = OneMinuteEnergy(at, 7, None)
    assert samples(0xD0, d0, ctx) == [Sample("D0", "normal", Decimal("0.7"), "kWh", at)]


def test_samples_daily_history_needs_today_and_timestamps_each_slot():
    ctx = _ctx(0x02, 2)
    slots = (100,) * 3 + (None,) * 45
    value = DailyHistory(2, slots)
    with pytest.raises(ValueError, match="today"):
        samples(0xE2, value, ctx)
    got = samples(0xE4, value, ctx, today=date(2026, 3, 1))
    assert got == [
        Sample("E4", "", Decimal("2.00"), "kWh", datetime(2026, 2, 27, 0, 0)),
        Sample("E4", "", Decimal("2.00"), "kWh", datetime(2026, 2, 27, 0, 30)),
        Sample("E4", "", Decimal("2.00"), "kWh", datetime(2026, 2, 27, 1, 0)),
    ]
    full = samples(0xE2, DailyHistory(0, (1,) * 48), ctx, today=date(2026, 3, 1))
    assert len(full) == 48 and full[-1].at == datetime(2026, 3, 1, 23, 30)


def test_context_rows_and_non_numeric_properties():
    ctx = MeterContext()
    assert samples(0xD3, Coefficient(10), ctx) == [Sample("D3", "", Decimal(10), "", None)]
    assert samples(0xD7, EffectiveDigits(6), ctx) == [Sample("D7", "", Decimal(6), "digits", None)]
    assert samples(0xE1, EnergyUnit(0x01), ctx) == [Sample("E1", "", Decimal("0.1"), "kWh", None)]
    for epc in (0x80, 0x81, 0x82, 0x83, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9C, 0x9D, 0x9E, 0x9F, 0xC0, 0xE5, 0xED, 0xEF):
        assert samples(epc, decode(epc, GOOD_EDT[epc]), ctx) == [], hex(epc)
    assert samples(0xF0, RawValue(b"\x01"), ctx) == []


# ------------------------------------------------------------------------------------------ counter wrap


def test_counter_delta():
    assert counter_delta(5, 3, 6) == 2
    assert counter_delta(3, 3, 6) == 0
    assert counter_delta(2, 999_998, 6) == 4
    assert counter_delta(0, 99_999_999, 8) == 1
    assert counter_delta(0, 9, 1) == 1
    for args in ((1_000_000, 0, 6), (0, -1, 6), (1, 0, 0), (1, 0, 9)):
        with pytest.raises(ValueError):
            counter_delta(*args)


@given(st.integers(1, 8).flatmap(lambda d: st.tuples(st.just(d), st.integers(0, 10**d - 1), st.integers(0, 10**d - 1))))
def test_counter_delta_adds_back(args):
    digits, old, new = args
    delta = counter_delta(new, old, digits)
    assert 0 <= delta < 10**digits
    assert (old + delta) % 10**digits == new


# ------------------------------------------------------------------------------------------ round trips

naive_dt = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)).map(
    lambda d: d.replace(microsecond=0)
)
energy = st.one_of(st.none(), st.integers(0, 0xFFFFFFFF).filter(lambda v: v != NO_ENERGY))
tenths = st.integers(-0x7FFF, 0x7FFD).map(lambda v: Decimal(v).scaleb(-1))


def _currents(r, t):
    r_amps, r_missing = r
    t_amps, t_missing = t
    return InstantCurrents(r_amps, t_amps, r_missing, t_missing)


def _phase(codes):
    return st.one_of(tenths.map(lambda a: (a, None)), st.sampled_from(codes).map(lambda m: (None, m)))


VALUES = {
    0x80: st.sampled_from([0x30, 0x31]).map(OperationStatus),
    0x81: st.one_of(
        st.integers(0, 0xFF).map(InstallationLocation),
        st.binary(min_size=16, max_size=16).map(lambda b: InstallationLocation(1, b)),
    ),
    0x82: st.builds(
        StandardVersion, st.characters(max_codepoint=0xFF), st.integers(0, 0xFF), st.binary(min_size=2, max_size=2)
    ),
    0x83: st.builds(
        IdentificationNumber, st.integers(0, 0xFF), st.integers(0, 0xFFFFFF), st.binary(min_size=13, max_size=13)
    ),
    0x88: st.sampled_from([0x41, 0x42]).map(FaultStatus),
    0x8A: st.integers(0, 0xFFFFFF).map(ManufacturerCode),
    0x8D: st.binary(min_size=12, max_size=12).map(ProductionNumber),
    0x97: st.times().map(lambda t: CurrentTime(t.replace(second=0, microsecond=0))),
    0x98: st.dates().map(CurrentDate),
    0x9F: st.frozensets(st.integers(0x80, 0xFF)).map(PropertyMap),
    0xC0: st.binary(min_size=4, max_size=255).map(RouteBId),
    0xD0: st.builds(OneMinuteEnergy, naive_dt, energy, energy),
    0xD3: st.integers(1, 999999).map(Coefficient),
    0xD7: st.integers(1, 8).map(EffectiveDigits),
    0xE0: energy.map(CumulativeEnergy),
    0xE1: st.sampled_from([0, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D]).map(EnergyUnit),
    0xE2: st.builds(DailyHistory, st.integers(0, 99), st.lists(energy, min_size=48, max_size=48).map(tuple)),
    0xE5: st.integers(0, 99).map(HistoryDay),
    0xE7: st.one_of(
        st.integers(-0x7FFFFFFF, 0x7FFFFFFD).map(InstantPower),
        st.sampled_from([NoValue.NO_DATA, NoValue.OVERFLOW, NoValue.UNDERFLOW]).map(lambda m: InstantPower(None, m)),
    ),
    0xE8: st.builds(
        _currents,
        _phase([NoValue.NO_DATA, NoValue.OVERFLOW, NoValue.UNDERFLOW]),
        _phase([NoValue.NOT_APPLICABLE, NoValue.OVERFLOW, NoValue.UNDERFLOW]),
    ),
    0xEA: st.builds(FixedTimeEnergy, naive_dt, energy),
    0xEC: st.builds(
        HalfHourlyHistory,
        naive_dt.map(lambda d: d.replace(second=0)),
        st.lists(st.tuples(energy, energy), min_size=1, max_size=12).map(tuple),
    ),
    0xED: st.one_of(
        st.builds(HalfHourlyHistoryTime, naive_dt.map(lambda d: d.replace(second=0)), st.integers(1, 12)),
        st.builds(HalfHourlyHistoryTime, st.none(), st.integers(0, 0xFF)),
    ),
    0xEE: st.builds(
        MinuteHistory,
        naive_dt.map(lambda d: d.replace(second=0)),
        st.lists(st.tuples(energy, energy), min_size=1, max_size=10).map(tuple),
    ),
    0xEF: st.builds(MinuteHistoryTime, naive_dt.map(lambda d: d.replace(second=0)), st.integers(1, 10)),
}


@pytest.mark.parametrize("epc", sorted(VALUES))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_encode_decode_round_trip(epc, data):
    value = data.draw(VALUES[epc])
    edt = encode(epc, value)
    assert decode(epc, edt) == value
    assert encode(epc, decode(epc, edt)) == edt


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 0xFFFFFF), max_size=84).map(lambda l: InstanceList(tuple(l))))
def test_instance_list_round_trip(value):
    assert decode_node_profile(0xD5, encode_node_profile(0xD5, value)) == value


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 0xFF), st.binary(max_size=260))
def test_decode_raises_only_property_error(epc, edt):
    try:
        value = decode(epc, edt)
    except PropertyError:
        return
    # canonical form: property maps re-encode sorted, an unset ED/EF re-encodes as FF..FF
    assert decode(epc, encode(epc, value)) == value


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(GOOD_EDT)), st.data())
def test_mutated_good_edts_decode_or_raise_property_error(epc, data):
    edt = bytearray(GOOD_EDT[epc])
    for _ in range(data.draw(st.integers(1, 4))):
        if edt:
            edt[data.draw(st.integers(0, len(edt) - 1))] = data.draw(st.integers(0, 0xFF))
    try:
        value = decode(epc, bytes(edt))
    except PropertyError:
        return
    ctx = _ctx()
    samples(epc, value, ctx, today=date(2026, 1, 1))  # a decoded value always converts


def test_property_names():
    assert PROPERTIES[0xE7].name == "instantaneous power" and PROPERTIES[0xE7].unit == "W"
    assert property_name(0xE0) == "cumulative energy, normal direction"
    assert property_name(0xD5, node_profile=True) == "instance list notification"
