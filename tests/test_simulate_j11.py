"""Scripted checks of the simulated J11 adapter: framing, commands, scan, PANA, data."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from logger.clock import VirtualClock
from logger.echonet.frame import ESV, Frame, Property, decode_frame
from logger.simulate.dongle_config import DEMO_PASSWORD, DEMO_RBID, DongleConfig
from logger.simulate.embedded import build_simulation
from logger.simulate.faults import Fault, FaultPlan
from logger.simulate.j11 import J11Sim
from logger.simulate.j11 import frames as fr
from logger.simulate.j11.core import link_local
from logger.simulate.meter import MeterConfig, MeterSim
from logger.simulate.neighbours import neighbourhood

T0 = 1_700_000_000.0
METER, CONTROLLER = 0x028801, 0x05FF01


def make(**kw) -> J11Sim:
    neighbours = kw.pop("neighbours", 0)
    config = DongleConfig(scan_time_scale=0.01, join_time=1.0, pana_fail_time=5.0, **kw)
    if neighbours:
        config.neighbours = neighbourhood(config, neighbours, seed=1)
    return J11Sim(MeterSim(MeterConfig(notify="none"), T0), config, random.Random(0))


def ask(sim: J11Sim, code: int, data: bytes = b"", at: float = T0, wait: float = 0.1) -> list[tuple[int, bytes]]:
    sim.receive(fr.request(code, data), at)
    return fr.split(sim.output(at + wait))


def ready(sim: J11Sim, rbid: str = DEMO_RBID, password: str = DEMO_PASSWORD) -> None:
    assert ask(sim, 0x005F, bytes([5, 0, 17, 0])) == [(0x205F, b"\x01")]
    assert ask(sim, 0x0054, (rbid + password).encode()) == [(0x2054, b"\x01")]


def joined(sim: J11Sim) -> float:
    ready(sim)
    [(code, body)] = ask(sim, 0x0053, wait=1.0)
    assert code == 0x2053 and body[0] == 1
    assert ask(sim, 0x0005, (0x0E1A).to_bytes(2, "big"), at=T0 + 1) == [(0x2005, b"\x01")]
    assert ask(sim, 0x0056, at=T0 + 2) == [(0x2056, b"\x01")]
    out = fr.split(sim.output(T0 + 4))
    assert (0x6028, b"\x01" + bytes.fromhex(sim.config.meter_mac)) in out
    return T0 + 4


# -- framing -----------------------------------------------------------------------------------
def test_checksums_cover_header_bytes_0_to_7_and_the_data() -> None:
    raw = fr.request(0x006B)
    assert raw.hex().upper() == "D0EA83FC006B000403A80000"  # 0x03A8 = D0+EA+83+FC+00+6B+00+04
    frame = fr.encode(0x2054, b"\x01")
    assert frame[:4] == bytes.fromhex("D0F9EE5D") and frame[6:8] == b"\x00\x05"
    assert int.from_bytes(frame[8:10], "big") == sum(frame[:8]) and frame[10:12] == b"\x00\x01"


def test_version_answer_layout() -> None:
    [(code, body)] = ask(make(), 0x006B)
    assert code == 0x206B and body[0] == 1 and len(body) == 9


def test_garbage_before_a_request_is_skipped_even_split_across_reads() -> None:
    sim = make()
    raw = b"\x00\xd0\xea\x13garbage" + fr.request(0x006B)
    for i in range(len(raw)):
        sim.receive(raw[i : i + 1], T0)
    assert [c for c, _ in fr.split(sim.output(T0 + 1))] == [0x206B]
    assert sim.reader.skipped == 11


def test_bad_checksums_and_lengths_are_refused() -> None:
    sim = make()
    bad_head = bytearray(fr.request(0x006B))
    bad_head[9] ^= 1
    assert ask(sim, 0, b"") == [(0x2000, b"\x03")]  # unknown command code 0
    sim.receive(bytes(bad_head), T0)
    assert fr.split(sim.output(T0 + 1)) == [(0x206B, b"\xf0")]
    bad_data = bytearray(fr.request(0x0005, b"\x0e\x1a"))
    bad_data[-1] ^= 1
    sim.receive(bytes(bad_data), T0)
    assert fr.split(sim.output(T0 + 1)) == [(0x2005, b"\xf1")]
    assert ask(sim, 0x0005, b"\x0e") == [(0x2005, b"\x11")]


def test_an_unfinished_request_times_out_after_one_second() -> None:
    sim = make()
    sim.receive(fr.request(0x0005, b"\x0e\x1a")[:13], T0)
    assert sim.next_deadline() == pytest.approx(T0 + 1.0)
    assert fr.split(sim.output(T0 + 1.1)) == [(0x2005, b"\x13")]
    assert ask(sim, 0x006B, at=T0 + 2)[0][0] == 0x206B  # in sync again


def test_reset_sends_only_the_startup_notification_and_forgets_everything() -> None:
    sim = make()
    ready(sim)
    assert ask(sim, 0x00D9, wait=1.0) == [(0x6019, b"")]
    assert ask(sim, 0x0053) == [(0x2053, b"\x10")]  # initial settings forgotten
    assert ask(sim, 0x0054, (DEMO_RBID + DEMO_PASSWORD).encode()) == [(0x2054, b"\x01")]
    assert ask(sim, 0x0054, (DEMO_RBID + DEMO_PASSWORD).encode()) == [(0x2054, b"\x58")]


def test_initial_settings_are_checked() -> None:
    sim = make()
    assert ask(sim, 0x005F, bytes([5, 0, 18, 0])) == [(0x205F, b"\x04")]
    assert ask(sim, 0x005F, bytes([4, 0, 4, 0])) == [(0x205F, b"\x04")]
    assert ask(sim, 0x005F, bytes([5, 0, 4])) == [(0x205F, b"\x11")]
    assert ask(sim, 0x005F, bytes([3, 0, 4, 0])) == [(0x205F, b"\x01")]
    assert ask(sim, 0x0107) == [(0x2107, bytes([1, 3, 0, 4, 0]))]


# -- scan ------------------------------------------------------------------------------------
def scan(sim: J11Sim, flag: int, pair: str, duration: int = 6) -> list[tuple[int, bytes]]:
    data = bytes([duration]) + (0x0003FFF0).to_bytes(4, "big") + bytes([flag]) + pair.encode()
    sim.receive(fr.request(0x0051, data), T0)
    return fr.split(sim.output(T0 + 60))


def test_scan_with_the_pairing_id_reports_only_the_household_meter() -> None:
    sim = make(neighbours=3)
    ready(sim)
    out = scan(sim, 1, DEMO_RBID[-8:])
    assert out[-1] == (0x2051, b"\x01")  # the response ends the scan
    notes = out[:-1]
    assert [body[1] for _, body in notes] == list(range(4, 18))
    heard = [body for _, body in notes if body[0] == 0]
    assert len(heard) == 1 and heard[0][1] == 17 and heard[0][2] == 1
    mac, pan = heard[0][3:11], heard[0][11:13]
    assert mac == bytes.fromhex(sim.config.meter_mac) and int.from_bytes(pan, "big") == sim.config.pan_id


def test_scan_without_the_pairing_id_reports_the_neighbours_too() -> None:
    sim = make(neighbours=3)
    ready(sim)
    heard = [body for code, body in scan(sim, 0, "00000000") if code == 0x4051 and body[0] == 0]
    assert sum(body[2] for body in heard) == 4


def test_scan_too_short_hears_nothing_and_bad_arguments_fail() -> None:
    sim = make()
    ready(sim)
    assert all(body[0] == 1 for code, body in scan(sim, 1, DEMO_RBID[-8:], duration=2) if code == 0x4051)
    bad_mask = bytes([6]) + (0x0000000F).to_bytes(4, "big") + b"\x01" + DEMO_RBID[-8:].encode()
    assert ask(sim, 0x0051, bad_mask, at=T0 + 100) == [(0x2051, b"\x04")]


# -- B-route, PANA, data -------------------------------------------------------------------
def test_pana_success_then_a_get_comes_back_as_a_data_notification() -> None:
    sim = make()
    t = joined(sim)
    get = Frame(0x0102, CONTROLLER, METER, ESV.GET, (Property(0xE7),))
    data = link_local(sim.config.meter_mac) + b"\x0e\x1a\x0e\x1a" + len(get.encode()).to_bytes(2, "big") + get.encode()
    sim.receive(fr.request(0x0008, data), t)
    out = fr.split(sim.output(t + 2))
    assert out[0] == (0x2008, b"\x01\x00")
    code, body = out[1]
    assert code == 0x6018 and body[:16] == link_local(sim.config.meter_mac)
    assert body[22:24] == b"\x00\x02" and int.from_bytes(body[25:27], "big") == len(body) - 27
    answer = decode_frame(body[27:])
    assert answer.tid == 0x0102 and answer.esv == ESV.GET_RES
    assert answer.prop(0xE7) is not None and len(answer.prop(0xE7).edt) == 4


def test_wrong_password_is_rejected() -> None:
    sim = make()
    ready(sim, password="WRONGPASSWD1")
    assert ask(sim, 0x0053, wait=1.0)[0][1][0] == 1
    assert ask(sim, 0x0056, at=T0 + 2) == [(0x2056, b"\x01")]
    assert (0x6028, b"\x02" + bytes.fromhex(sim.config.meter_mac)) in fr.split(sim.output(T0 + 4))


def test_a_neighbours_meter_does_not_answer_pana() -> None:
    sim = make(neighbours=2)
    channel = 4 + (sim.config.neighbours[0].channel - 33) // 2
    assert ask(sim, 0x005F, bytes([5, 0, channel, 0])) == [(0x205F, b"\x01")]
    assert ask(sim, 0x0054, (DEMO_RBID + DEMO_PASSWORD).encode()) == [(0x2054, b"\x01")]
    [(_, body)] = ask(sim, 0x0053, wait=1.0)
    assert body[4:12] == bytes.fromhex(sim.config.neighbours[0].mac)
    assert ask(sim, 0x0056, at=T0 + 2) == [(0x2056, b"\x01")]
    assert fr.split(sim.output(T0 + 6)) == []
    assert fr.split(sim.output(T0 + 8))[0][1][0] == 0x03


def test_no_meter_on_the_channel_fails_the_mac_connection() -> None:
    sim = make()
    assert ask(sim, 0x005F, bytes([5, 0, 4, 0])) == [(0x205F, b"\x01")]
    assert ask(sim, 0x0054, (DEMO_RBID + DEMO_PASSWORD).encode()) == [(0x2054, b"\x01")]
    assert ask(sim, 0x0053, wait=5.0) == [(0x2053, b"\x0e")]


def test_drop_fault_reports_pana_disconnected() -> None:
    sim = make()
    t = joined(sim)
    sim.schedule_fault(Fault(t + 1, "drop"))
    out = fr.split(sim.output(t + 2))
    assert out[-1][0] == 0x601A and out[-1][1][0] == 0x04


def test_build_simulation_j11_runs_on_a_virtual_clock() -> None:
    clock = VirtualClock(T0)
    sim = build_simulation(clock, "j11", dongle=DongleConfig(faults=FaultPlan()))
    assert isinstance(sim.dongle, J11Sim)
    port = sim.open()
    port.write(fr.request(0x006B))
    assert fr.split(port.read_until(T0 + 1))[0][0] == 0x206B


def test_simulate_command_offers_j11() -> None:
    out = subprocess.run([sys.executable, "-m", "logger.cli", "simulate", "--help"], capture_output=True, text=True, check=True)
    assert "j11" in out.stdout
