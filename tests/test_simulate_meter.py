"""MeterSim: the simulated smart meter (ECHONET side), driven with frames and explicit times."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logger.echonet import meter as em
from logger.echonet.frame import (
    CONTROLLER,
    ESV,
    METER,
    NODE_PROFILE,
    Frame,
    Property,
    decode_frame,
    get_request,
    infc_response,
)
from logger.simulate.history import EnergyHistory
from logger.simulate.load import LoadModel
from logger.simulate.meter import (
    DEFAULT_EPCS,
    NO_DATA,
    MeterConfig,
    MeterSim,
    property_map,
)

TOKYO = ZoneInfo("Asia/Tokyo")
#: 2026-11-22 10:07:10 JST (grid-aligned to the 10 s power steps).
START = datetime(2026, 11, 22, 10, 7, 10, tzinfo=TOKYO).timestamp()
#: The next local midnight after START.
MIDNIGHT = datetime(2026, 11, 23, 0, 0, tzinfo=TOKYO).timestamp()


def ask(sim: MeterSim, epcs: list[int], now: float, tid: int = 0x1234) -> Frame:
    """One Get round trip through the wire format; exactly one answer expected."""
    answers = sim.handle(decode_frame(get_request(tid, epcs).encode()), now)
    assert len(answers) == 1
    return decode_frame(answers[0].encode())


def u32(edt: bytes, offset: int = 0) -> int:
    return int.from_bytes(edt[offset : offset + 4], "big")


def edt(frame: Frame, epc: int) -> bytes:
    prop = frame.prop(epc)
    assert prop is not None
    return prop.edt


def history_slots(edt_bytes: bytes) -> list[int]:
    return [u32(edt_bytes, 2 + 4 * i) for i in range(48)]


def setc(sim: MeterSim, props: list[Property], now: float, esv: int = ESV.SETC) -> list[Frame]:
    return [decode_frame(f.encode()) for f in sim.handle(Frame(0x0042, CONTROLLER, METER, esv, tuple(props)), now)]


def ed_edt(at: datetime, n: int) -> bytes:
    return at.year.to_bytes(2, "big") + bytes((at.month, at.day, at.hour, at.minute, n))


# --------------------------------------------------------------------------- Get / Get_SNA


def test_get_res_echoes_tid_and_swaps_objects() -> None:
    sim = MeterSim(MeterConfig(), START)
    answer = ask(sim, [0xE7, 0xE8, 0xE0], START + 60, tid=0xBEEF)
    assert (answer.tid, answer.seoj, answer.deoj, answer.esv) == (0xBEEF, METER, CONTROLLER, ESV.GET_RES)
    assert [p.epc for p in answer.props] == [0xE7, 0xE8, 0xE0]
    assert int.from_bytes(edt(answer, 0xE7), "big", signed=True) == sim.power_w(START + 60)
    assert u32(edt(answer, 0xE0)) == sim.true_counter(START + 60)


def test_every_supported_epc_decodes_with_the_logger_decoder() -> None:
    sim = MeterSim(MeterConfig(), START)
    now = START + 3600
    setc(sim, [Property(0xED, ed_edt(datetime(2026, 11, 22, 10, 30), 12))], now)
    epcs = sorted(DEFAULT_EPCS)
    for i in range(0, len(epcs), 5):
        answer = ask(sim, epcs[i : i + 5], now)
        assert answer.esv == ESV.GET_RES
        for prop in answer.props:
            assert prop.edt, f"{prop.epc:02X} empty"
            em.decode(prop.epc, prop.edt)  # raises PropertyError on a malformed EDT


def test_fixed_values_match_the_captured_meter() -> None:
    sim = MeterSim(MeterConfig(maker_code=0x000016), START)
    answer = ask(sim, [0x80, 0x82, 0x88, 0x8A, 0xD7, 0xE1, 0xD3], START)
    assert edt(answer, 0x80) == b"\x30"
    assert edt(answer, 0x82) == bytes.fromhex("00004600")
    assert edt(answer, 0x88) == b"\x42"
    assert edt(answer, 0x8A) == bytes.fromhex("000016")
    assert edt(answer, 0xD7) == b"\x06"
    assert edt(answer, 0xE1) == b"\x01"
    assert edt(answer, 0xD3) == bytes.fromhex("00000001")


def test_clock_properties_are_local_time() -> None:
    sim = MeterSim(MeterConfig(), START)
    answer = ask(sim, [0x97, 0x98], START)
    assert edt(answer, 0x97) == bytes((10, 7))
    assert edt(answer, 0x98) == bytes.fromhex("07EA0B16")  # 2026-11-22


def test_get_sna_still_carries_the_supported_values() -> None:
    config = MeterConfig(supported_epcs=DEFAULT_EPCS - {0xEC, 0xED})
    sim = MeterSim(config, START)
    answer = ask(sim, [0xE7, 0xEC, 0xE0], START + 30)
    assert answer.esv == ESV.GET_SNA
    assert [p.epc for p in answer.props] == [0xE7, 0xEC, 0xE0]
    assert edt(answer, 0xEC) == b""
    assert len(edt(answer, 0xE7)) == 4
    assert u32(edt(answer, 0xE0)) == sim.true_counter(START + 30)


def test_meter_without_d3_answers_get_sna_for_d3_and_omits_it_from_the_map() -> None:
    sim = MeterSim(MeterConfig(coefficient=None), START)
    answer = ask(sim, [0xD3, 0xE1], START)
    assert answer.esv == ESV.GET_SNA
    assert edt(answer, 0xD3) == b""
    assert edt(answer, 0xE1) == b"\x01"
    get_map = em.decode(0x9F, edt(ask(sim, [0x9F], START), 0x9F))
    assert 0xD3 not in set(get_map.epcs)


def test_ec_is_unavailable_until_ed_is_set() -> None:
    sim = MeterSim(MeterConfig(), START)
    answer = ask(sim, [0xEC], START)
    assert answer.esv == ESV.GET_SNA and edt(answer, 0xEC) == b""
    assert edt(ask(sim, [0xED], START), 0xED) == b"\xff" * 7


def test_more_epcs_than_the_meter_takes_gets_no_answer() -> None:
    sim = MeterSim(MeterConfig(max_epcs_per_get=3), START)
    assert sim.handle(get_request(1, [0xE7, 0xE8, 0xE0, 0xE3]), START) == []
    assert ask(sim, [0xE7, 0xE8, 0xE0], START).esv == ESV.GET_RES


def test_inf_req_is_answered_with_inf() -> None:
    sim = MeterSim(MeterConfig(), START)
    request = Frame(7, CONTROLLER, METER, ESV.INF_REQ, (Property(0xE7),))
    (answer,) = sim.handle(request, START)
    assert (answer.esv, answer.tid) == (ESV.INF, 7)
    assert len(edt(answer, 0xE7)) == 4


def test_frames_for_other_objects_are_ignored_but_node_profile_d6_is_answered() -> None:
    sim = MeterSim(MeterConfig(), START)
    assert sim.handle(get_request(1, [0x80], deoj=0x013001), START) == []
    (answer,) = sim.handle(get_request(9, [0xD6], deoj=NODE_PROFILE), START)
    assert (answer.tid, answer.seoj, answer.deoj, answer.esv) == (9, NODE_PROFILE, CONTROLLER, ESV.GET_RES)
    assert edt(answer, 0xD6) == bytes.fromhex("01028801")
    # responses arriving at the meter are not requests
    assert sim.handle(Frame(3, CONTROLLER, METER, ESV.GET_RES, (Property(0xE7, b"\0\0\0\1"),)), START) == []


def test_instance_list_frame_matches_captured_bytes() -> None:
    assert MeterSim.instance_list_frame(0x006B).encode() == bytes.fromhex("1081006B0EF0010EF0017301D50401028801")


# --------------------------------------------------------------------------- property maps


def test_property_map_list_form_below_16_and_bitmap_from_16() -> None:
    assert property_map({0x81, 0xE5, 0xED}) == bytes.fromhex("0381E5ED")
    bitmap = property_map(DEFAULT_EPCS)
    assert len(bitmap) == 17 and bitmap[0] == len(DEFAULT_EPCS)
    decoded = {0x80 + 0x10 * bit + i for i in range(16) for bit in range(8) if bitmap[1 + i] & (1 << bit)}
    assert decoded == set(DEFAULT_EPCS)
    sim = MeterSim(MeterConfig(), START)
    answer = ask(sim, [0x9D, 0x9E, 0x9F], START)
    assert edt(answer, 0x9D) == bytes.fromhex("03808188")
    assert edt(answer, 0x9E) == bytes.fromhex("0381E5ED")
    assert edt(answer, 0x9F) == bitmap


# --------------------------------------------------------------------------- SetC / SetI


def test_setc_e5_selects_the_history_day() -> None:
    sim = MeterSim(MeterConfig(), START)
    (answer,) = setc(sim, [Property(0xE5, b"\x01")], START)
    assert (answer.esv, answer.tid, answer.props) == (ESV.SET_RES, 0x0042, (Property(0xE5),))
    assert edt(ask(sim, [0xE5], START), 0xE5) == b"\x01"
    day = edt(ask(sim, [0xE2], START), 0xE2)
    assert day[:2] == b"\x00\x01"
    yesterday = datetime(2026, 11, 21, tzinfo=TOKYO).timestamp()
    assert history_slots(day) == [sim.true_counter(yesterday + 1800 * i) for i in range(48)]


@pytest.mark.parametrize(
    ("epc", "value"),
    [(0xE5, b"\x64"), (0xE5, b"\x01\x02"), (0xE7, b"\0\0\0\1"), (0xED, bytes.fromhex("07EA0B160A0F01")), (0xED, bytes.fromhex("0001010100000C"))],
)
def test_setc_bad_value_or_read_only_gets_setc_sna_echoing_the_edt(epc: int, value: bytes) -> None:
    sim = MeterSim(MeterConfig(), START)
    (answer,) = setc(sim, [Property(epc, value)], START)
    assert answer.esv == ESV.SETC_SNA
    assert answer.props == (Property(epc, value),)


def test_setc_partial_failure_reports_each_property() -> None:
    sim = MeterSim(MeterConfig(), START)
    (answer,) = setc(sim, [Property(0xE5, b"\x02"), Property(0xE0, b"\0\0\0\0")], START)
    assert answer.esv == ESV.SETC_SNA
    assert answer.props == (Property(0xE5), Property(0xE0, b"\0\0\0\0"))
    assert edt(ask(sim, [0xE5], START), 0xE5) == b"\x02"


def test_seti_is_silent_on_success_and_seti_sna_on_failure() -> None:
    sim = MeterSim(MeterConfig(), START)
    assert setc(sim, [Property(0xE5, b"\x03")], START, esv=ESV.SETI) == []
    assert edt(ask(sim, [0xE5], START), 0xE5) == b"\x03"
    (answer,) = setc(sim, [Property(0xE5, b"\xff")], START, esv=ESV.SETI)
    assert answer.esv == ESV.SETI_SNA


def test_ed_then_ec_gives_newest_first_half_hour_values() -> None:
    sim = MeterSim(MeterConfig(solar_w=2000), START)
    now = START + 2 * 3600  # 12:07
    newest = datetime(2026, 11, 22, 12, 30)  # in the future at `now`
    (answer,) = setc(sim, [Property(0xED, ed_edt(newest, 4))], now)
    assert answer.esv == ESV.SET_RES
    assert edt(ask(sim, [0xED], now), 0xED) == ed_edt(newest, 4)
    ec = edt(ask(sim, [0xEC], now), 0xEC)
    assert ec[:7] == ed_edt(newest, 4) and len(ec) == 7 + 8 * 4
    pairs = [(u32(ec, 7 + 8 * i), u32(ec, 11 + 8 * i)) for i in range(4)]
    assert pairs[0] == (NO_DATA, NO_DATA)  # 12:30 has not happened yet
    base = datetime(2026, 11, 22, 12, 30, tzinfo=TOKYO).timestamp()
    for i in (1, 2, 3):
        b = base - 1800 * i
        assert pairs[i] == (sim.true_counter(b), sim.true_counter(b, reverse=True))


# --------------------------------------------------------------------------- history and counters


def test_history_slots_equal_the_counter_read_live_at_each_boundary() -> None:
    sim = MeterSim(MeterConfig(), START)
    seen: dict[float, int] = {}
    b = MIDNIGHT
    while b < MIDNIGHT + 86400:
        seen[b] = u32(edt(ask(sim, [0xE0], b), 0xE0))
        b += 1800
    later = MIDNIGHT + 86400 + 600  # the next day at 00:10: yesterday is day 1
    setc(sim, [Property(0xE5, b"\x01")], later)
    assert history_slots(edt(ask(sim, [0xE2], later), 0xE2)) == list(seen.values())
    setc(sim, [Property(0xE5, b"\x00")], later)
    today = history_slots(edt(ask(sim, [0xE2], later), 0xE2))
    assert today[0] == sim.true_counter(MIDNIGHT + 86400)
    assert today[1:] == [NO_DATA] * 47


def test_pre_history_covers_100_days_and_never_decreases() -> None:
    sim = MeterSim(MeterConfig(initial_normal=500_000), START)
    slots: list[int] = []
    for day in range(99, -1, -1):
        setc(sim, [Property(0xE5, bytes((day,)))], START)
        slots += [v for v in history_slots(edt(ask(sim, [0xE2], START), 0xE2)) if v != NO_DATA]
    assert len(slots) == 99 * 48 + 21  # today: 00:00 .. 10:00
    assert slots == sorted(slots)
    assert slots[-1] <= sim.true_counter(START) and slots[0] < slots[-1]
    # a day beyond the configured history is refused
    short = MeterSim(MeterConfig(history_days=10), START)
    assert setc(short, [Property(0xE5, b"\x0a")], START)[0].esv == ESV.SETC_SNA


def test_ea_is_the_counter_at_the_last_half_hour_boundary() -> None:
    sim = MeterSim(MeterConfig(), START)
    now = START + 3000  # 10:57:10
    ea = edt(ask(sim, [0xEA], now), 0xEA)
    assert ea[:7] == bytes.fromhex("07EA0B160A1E00")  # 2026-11-22 10:30:00
    boundary = datetime(2026, 11, 22, 10, 30, tzinfo=TOKYO).timestamp()
    assert u32(ea, 7) == sim.true_counter(boundary)


def test_counter_wraps_at_ten_to_the_digits() -> None:
    config = MeterConfig(unit=0x03, digits=6, initial_normal=999_990, base_load_w=1000, peak_load_w=2000)
    sim = MeterSim(config, START)
    before = u32(edt(ask(sim, [0xE0], START), 0xE0))
    after = u32(edt(ask(sim, [0xE0], START + 3600), 0xE0))
    assert before == 999_990 and after < before
    delta = em.counter_delta(after, before, 6)
    expected = (sim.true_energy_kwh(START + 3600) - sim.true_energy_kwh(START)) / Decimal("0.001")
    assert abs(delta - expected) <= 1
    assert sim.true_energy_kwh(START + 3600) > Decimal(1000)  # the register itself does not wrap


def test_energy_conservation_over_a_day_within_one_count() -> None:
    config = MeterConfig(unit=0x03, solar_w=3000, seed=7)  # 0.001 kWh per count: a strict check
    sim = MeterSim(config, START)
    first = ask(sim, [0xE0, 0xE3], START)
    imported_j = exported_j = 0
    t = START
    while t < START + 86400:
        power = int.from_bytes(edt(ask(sim, [0xE7], t), 0xE7), "big", signed=True)
        imported_j += max(power, 0) * 10
        exported_j += max(-power, 0) * 10
        t += 10
    last = ask(sim, [0xE0, 0xE3], t)
    joules_per_count = 3600
    for epc, joules in ((0xE0, imported_j), (0xE3, exported_j)):
        counts = em.counter_delta(u32(edt(last, epc)), u32(edt(first, epc)), 6)
        assert abs(counts - joules / joules_per_count) <= 1, f"{epc:02X}"
    assert imported_j > 0 and exported_j > 0


def test_solar_export_gives_negative_power_currents_and_reverse_growth() -> None:
    sim = MeterSim(MeterConfig(solar_w=5000, base_load_w=200, peak_load_w=1500), START)
    noon = datetime(2026, 11, 22, 12, 0, tzinfo=TOKYO).timestamp()
    exporting = [t for t in range(int(noon) - 3600, int(noon) + 3600, 60) if sim.power_w(t) < 0]
    assert exporting
    answer = ask(sim, [0xE7, 0xE8], exporting[0])
    power = int.from_bytes(edt(answer, 0xE7), "big", signed=True)
    currents = edt(answer, 0xE8)
    r = int.from_bytes(currents[:2], "big", signed=True)
    t_phase = int.from_bytes(currents[2:], "big", signed=True)
    assert power < 0 and r < 0 and t_phase < 0
    assert abs((r + t_phase) * 10 - power) <= 10  # 100 V per phase, 0.1 A steps
    e3_morning = u32(edt(ask(sim, [0xE3], START), 0xE3))
    e3_evening = u32(edt(ask(sim, [0xE3], START + 8 * 3600), 0xE3))
    assert e3_evening > e3_morning


def test_two_wire_meter_reports_t_phase_absent() -> None:
    sim = MeterSim(MeterConfig(three_wire=False), START)
    currents = edt(ask(sim, [0xE8], START), 0xE8)
    assert currents[2:] == bytes.fromhex("7FFE")
    assert int.from_bytes(currents[:2], "big", signed=True) == round(sim.power_w(START) / 10)


def test_past_instants_can_be_queried_after_the_cursor_moved_on() -> None:
    sim = MeterSim(MeterConfig(unit=0x04), START)
    times = [START + 137 * k for k in range(200)]
    live = [sim.true_counter(t) for t in times]
    assert [sim.true_counter(t) for t in reversed(times)] == list(reversed(live))


def test_deterministic_with_a_seed() -> None:
    def trace(seed: int) -> list[bytes]:
        sim = MeterSim(MeterConfig(seed=seed, solar_w=1000), START)
        return [ask(sim, [0xE7, 0xE8, 0xE0, 0xE3], START + 97 * k).encode() for k in range(300)]

    assert trace(5) == trace(5)
    assert trace(5) != trace(6)


# --------------------------------------------------------------------------- notifications


def test_inf_pushes_ea_and_eb_at_each_half_hour() -> None:
    sim = MeterSim(MeterConfig(notify="inf"), START)
    assert sim.next_notification_time(START) == datetime(2026, 11, 22, 10, 30, tzinfo=TOKYO).timestamp()
    assert sim.notifications(START + 1000) == []
    frames = [decode_frame(f.encode()) for f in sim.notifications(START + 3 * 3600)]  # 13:07
    assert len(frames) == 6  # 10:30 .. 13:00
    for k, frame in enumerate(frames):
        b = datetime(2026, 11, 22, 10, 30, tzinfo=TOKYO) + timedelta(minutes=30 * k)
        assert (frame.esv, frame.seoj, frame.deoj) == (ESV.INF, METER, CONTROLLER)
        assert [p.epc for p in frame.props] == [0xEA, 0xEB]
        ea, eb = edt(frame, 0xEA), edt(frame, 0xEB)
        assert ea[:7] == b.year.to_bytes(2, "big") + bytes((b.month, b.day, b.hour, b.minute, 0))
        assert u32(ea, 7) == sim.true_counter(b.timestamp())
        assert u32(eb, 7) == sim.true_counter(b.timestamp(), reverse=True)
    assert len({f.tid for f in frames}) == 6
    assert sim.unacked_infc == 0
    assert sim.notifications(START + 3 * 3600) == []


def test_infc_needs_infc_res_to_be_acknowledged() -> None:
    sim = MeterSim(MeterConfig(notify="infc", supported_epcs=DEFAULT_EPCS - {0xEB}), START)
    first, second = sim.notifications(START + 3600)  # 10:30 and 11:00
    assert second.tid != first.tid
    assert first.esv == ESV.INFC and [p.epc for p in first.props] == [0xEA]
    assert sim.unacked_infc == 2
    wrong = Frame(first.tid ^ 0xFFFF, CONTROLLER, METER, ESV.INFC_RES, (Property(0xEA),))
    assert sim.handle(wrong, START + 3600) == []
    assert sim.unacked_infc == 2
    assert sim.handle(decode_frame(infc_response(first).encode()), START + 3600) == []
    assert (sim.unacked_infc, sim.acked_infc) == (1, 1)


def test_notify_none_pushes_nothing() -> None:
    sim = MeterSim(MeterConfig(notify="none"), START)
    assert sim.notifications(START + 86400) == []
    assert sim.next_notification_time(START) == float("inf")


# --------------------------------------------------------------------------- faults


def test_silence_window_mutes_answers_and_pushes_but_history_accumulates() -> None:
    sim = MeterSim(MeterConfig(), START)
    quiet_from = datetime(2026, 11, 22, 10, 20, tzinfo=TOKYO).timestamp()
    quiet_to = datetime(2026, 11, 22, 11, 10, tzinfo=TOKYO).timestamp()
    sim.silence(quiet_from, quiet_to)
    assert sim.handle(get_request(1, [0xE7]), quiet_from + 60) == []
    assert sim.next_notification_time(START) == datetime(2026, 11, 22, 11, 30, tzinfo=TOKYO).timestamp()
    frames = sim.notifications(quiet_to + 3600)  # 10:30 and 11:00 fall inside; 11:30, 12:00 do not
    assert [edt(f, 0xEA)[5] for f in frames] == [30, 0]
    answer = ask(sim, [0xE2], quiet_to + 60)
    eleven = history_slots(edt(answer, 0xE2))[22]
    assert eleven == sim.true_counter(datetime(2026, 11, 22, 11, 0, tzinfo=TOKYO).timestamp())
    with pytest.raises(ValueError, match="end after"):
        sim.silence(5, 5)


def test_set_unit_keeps_the_register_and_old_history() -> None:
    sim = MeterSim(MeterConfig(unit=0x01), START)
    change = START + 7200  # 12:07:10
    before = sim.true_counter(change - 1)
    history_before = history_slots(edt(ask(sim, [0xE2], change - 1), 0xE2))
    sim.set_unit(0x02, change)
    after = u32(edt(ask(sim, [0xE0], change), 0xE0))
    assert edt(ask(sim, [0xE1], change), 0xE1) == b"\x02"
    register = sim.true_energy_kwh(change)
    assert abs(register - before * Decimal("0.1")) <= Decimal("0.1")  # the energy is continuous
    assert after == int(register / Decimal("0.01")) % 10**6  # re-expressed, wrapped at 6 digits
    history_after = history_slots(edt(ask(sim, [0xE2], change + 600), 0xE2))
    assert history_after[:25] == history_before[:25]  # recorded under the old unit, kept as recorded
    with pytest.raises(ValueError, match="not an E1 code"):
        sim.set_unit(0x05, change + 1)


def test_set_coefficient_rescales_the_counter() -> None:
    sim = MeterSim(MeterConfig(coefficient=1, unit=0x02), START)
    change = START + 600
    before = sim.true_counter(change - 1)
    sim.set_coefficient(10, change)
    answer = ask(sim, [0xD3, 0xE0], change)
    assert edt(answer, 0xD3) == (10).to_bytes(4, "big")
    assert abs(u32(edt(answer, 0xE0)) * 10 - before) <= 10
    no_d3 = MeterSim(MeterConfig(coefficient=None), START)
    with pytest.raises(ValueError, match="no D3"):
        no_d3.set_coefficient(10, change)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"unit": 0x05}, "not an E1 code"),
        ({"digits": 9}, "D7 is 1..8"),
        ({"initial_normal": 10**6}, "does not fit 6 digits"),
        ({"notify": "push"}, "notify"),
        ({"coefficient": 5, "supported_epcs": DEFAULT_EPCS - {0xD3}}, "coefficient=None"),
        ({"supported_epcs": DEFAULT_EPCS | {0xD0}}, "0xD0"),
        ({"timezone": "Mars/Olympus"}, "IANA"),
        ({"history_days": 101}, "history_days"),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(MeterConfig(), **overrides)


def test_open_ended_silence_means_no_further_pushes() -> None:
    sim = MeterSim(MeterConfig(), START)
    sim.silence(START + 600, float("inf"))
    assert sim.next_notification_time(START) == float("inf")
    assert sim.notifications(START + 86400) == []
    assert sim.is_silent(START + 10**6) and not sim.is_silent(START)


def test_sparse_old_checkpoints_give_the_same_energy() -> None:
    model = LoadModel(base_w=300, peak_w=2000, solar_w=1500, seed=3, tz=TOKYO)
    dense = EnergyHistory(model, START)
    sparse = EnergyHistory(model, START, dense_slots=4)
    probes = [START + 11111 * k for k in range(10)]  # over a day
    truth = [dense.energy_at(round(t * 1000)) for t in probes]
    sparse.advance_to(round(probes[-1] * 1000))
    assert [sparse.energy_at(round(t * 1000)) for t in probes] == truth
    assert len(sparse._checkpoints) < len(dense._checkpoints)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    unit=st.sampled_from([0x01, 0x02, 0x03, 0x04]),
    digits=st.integers(5, 8),
    below_wrap=st.integers(0, 50),
    solar=st.sampled_from([0, 3000]),
    offset=st.floats(0, 86400),
    span=st.floats(1, 3600),
)
def test_counter_delta_matches_the_register_within_one_count(
    seed: int, unit: int, digits: int, below_wrap: int, solar: int, offset: float, span: float
) -> None:
    config = MeterConfig(
        seed=seed, unit=unit, digits=digits, initial_normal=10**digits - 1 - below_wrap,
        initial_reverse=10**digits - 1 - below_wrap, solar_w=solar,
    )  # fmt: skip
    sim = MeterSim(config, START)
    t0, t1 = START + offset, START + offset + span
    kwh_per_count = Decimal(1) / Decimal(10) ** unit
    for reverse in (False, True):
        counts = em.counter_delta(sim.true_counter(t1, reverse), sim.true_counter(t0, reverse), digits)
        exact = (sim.true_energy_kwh(t1, reverse) - sim.true_energy_kwh(t0, reverse)) / kwh_per_count
        assert abs(counts - exact) < 1
        assert exact >= 0


def test_a_day_of_10_s_polling_evaluates_each_power_step_a_bounded_number_of_times() -> None:
    sim = MeterSim(MeterConfig(), START)
    calls = 0
    evaluate = sim.model.power_at_step

    def counting(step: int) -> int:
        nonlocal calls
        calls += 1
        return evaluate(step)

    sim.model.power_at_step = counting  # type: ignore[method-assign]
    request = get_request(1, [0xE7, 0xE8, 0xE0, 0xE3])
    for k in range(8640):
        now = START + 10 * k
        sim.handle(request, now)
        sim.notifications(now)
    # integration (1 per step) + E7 + E8: no re-integration, no per-second loop
    assert 8640 <= calls <= 3 * 8640 + 10
