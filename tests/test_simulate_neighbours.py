"""The simulated neighbourhood: other households' meters in range of the dongle (an apartment block).

DongleSim is driven with bytes on a virtual time line, as in ``test_simulate_dongle.py``;
the outcomes checked are what a host would see on the serial line.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import subprocess
import sys
import time

import pytest
import serial

from logger.clock import VirtualClock
from logger.simulate.dongle import (
    DEMO_PASSWORD,
    DEMO_RBID,
    DongleConfig,
    DongleSim,
    NeighbourMeter,
    neighbourhood,
    scan_dwell_s,
)
from logger.simulate.embedded import build_simulation
from logger.simulate.meter import MeterConfig, MeterSim
from logger.simulate.profiles import ll64

T0 = 1_780_000_000.0
OWN = DongleConfig()
OWN_IP = ll64(OWN.meter_mac)
OWN_PAIR = DEMO_RBID[-8:]
DS = {"rl7023-dss", "bp35c0"}
ALL = ["bp35a1", "rl7023-ips", "rl7023-dss", "bp35c0"]
LIMIT = 20.0


class Host:
    """Drives a DongleSim with ``count`` generated neighbours on a virtual time line."""

    def __init__(self, dialect: str, count: int = 3, **config) -> None:
        base = DongleConfig(**config)
        if count:
            base = dataclasses.replace(base, neighbours=neighbourhood(base, count))
        self.config = base
        self.meter = MeterSim(MeterConfig(notify="none"), T0)
        self.dongle = DongleSim(dialect, self.meter, base, random.Random(3))
        self.ds = dialect in DS
        self.t = T0
        self.send(b"SKSREG SFE 0\r\n")

    def send(self, data: bytes, wait: float = 0.0) -> bytes:
        self.dongle.receive(data, self.t)
        return self.wait(wait)

    def wait(self, seconds: float) -> bytes:
        self.t += seconds
        return self.dongle.output(self.t)

    def scan(self, mask: int = 0xFFFFFFFF, duration: int = 6, mode: int = 2) -> bytes:
        side = " 0" if self.ds else ""
        return self.send(f"SKSCAN {mode} {mask:08X} {duration:X}{side}\r\n".encode(), 28 * scan_dwell_s(duration) + 1)

    def credentials(self) -> None:
        self.send(f"SKSETRBID {DEMO_RBID}\r\nSKSETPWD C {DEMO_PASSWORD}\r\n".encode())

    def join(self, ip: str, channel: int, pan_id: int, wait: float) -> bytes:
        self.send(f"SKSREG S2 {channel:02X}\r\nSKSREG S3 {pan_id:04X}\r\n".encode())
        return self.send(f"SKJOIN {ip}\r\n".encode(), wait)


def pans(out: bytes) -> list[dict[str, str]]:
    """The EPANDESC blocks of a scan, as dicts, in the order printed."""
    blocks = []
    for block in out.decode().split("EPANDESC\r\n")[1:]:
        fields = dict(re.findall(r"^  ([A-Za-z ]+):(\S+)\r$", block, re.MULTILINE))
        blocks.append(fields)
    return blocks


def bit(channel: int) -> int:
    return 1 << (channel - 0x21)


# -- the generated neighbourhood ---------------------------------------------------------------


def test_neighbourhood_is_deterministic_and_below_and_louder_than_the_meter() -> None:
    found = neighbourhood(OWN, 20)
    assert found == neighbourhood(OWN, 20) and found != neighbourhood(OWN, 20, seed=1)
    channels = [n.channel for n in found]
    assert channels == sorted(set(channels)) and all(0x21 <= c < OWN.channel for c in channels)
    assert all(OWN.lqi < n.lqi <= 0xFF for n in found)
    assert len({n.mac for n in found} | {OWN.meter_mac}) == 21
    assert len({n.pan_id for n in found} | {OWN.pan_id}) == 21
    assert len({n.pair_id for n in found} | {OWN_PAIR}) == 21
    assert all(n.min_scan_duration == OWN.min_scan_duration for n in found)


def test_neighbourhood_refuses_what_cannot_be_arranged() -> None:
    with pytest.raises(ValueError, match="0 to 20"):
        neighbourhood(OWN, 21)
    with pytest.raises(ValueError, match="channels below"):
        neighbourhood(DongleConfig(channel=0x23), 3)
    with pytest.raises(ValueError, match="louder"):
        neighbourhood(DongleConfig(lqi=0xFF), 1)
    assert neighbourhood(DongleConfig(channel=0x21), 0) == ()


def test_config_rejects_a_neighbour_with_the_households_pair_id_or_mac() -> None:
    with pytest.raises(ValueError, match="PairID"):
        DongleConfig(neighbours=(NeighbourMeter(0x21, 0x1234, "001C640000001234", 0xD0, OWN_PAIR),))
    with pytest.raises(ValueError, match="MAC"):
        DongleConfig(neighbours=(NeighbourMeter(0x21, 0x1234, OWN.meter_mac, 0xD0, "00000001"),))
    with pytest.raises(ValueError, match="8 hex"):
        NeighbourMeter(0x21, 0x1234, "001C640000001234", 0xD0, "XYZ")


def test_neighbour_pair_ids_stay_out_of_reprs() -> None:
    config = dataclasses.replace(OWN, neighbours=neighbourhood(OWN, 3))
    for n in config.neighbours:
        assert n.pair_id not in repr(config)


# -- scanning ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL)
def test_full_sweep_reports_every_pan_in_channel_order_with_pair_ids(dialect: str) -> None:
    h = Host(dialect, count=3)
    out = h.scan()
    found = pans(out)
    assert out.count(b"EVENT 20 ") == 4 and out.rstrip().split(b"\r\n")[-1].startswith(b"EVENT 22 ")
    assert [int(p["Channel"], 16) for p in found] == sorted([n.channel for n in h.config.neighbours] + [OWN.channel])
    by_channel = {int(p["Channel"], 16): p for p in found}
    assert by_channel[OWN.channel]["PairID"] == OWN_PAIR
    assert by_channel[OWN.channel]["Addr"] == OWN.meter_mac
    for n in h.config.neighbours:
        pan = by_channel[n.channel]
        assert (pan["Pan ID"], pan["Addr"], pan["PairID"]) == (f"{n.pan_id:04X}", n.mac, n.pair_id)
        assert int(pan["LQI"], 16) == n.lqi > OWN.lqi
        assert ("Side" in pan) == h.ds


def test_each_pan_prints_when_the_sweep_passes_its_channel() -> None:
    h = Host("bp35a1", count=2)
    dwell = scan_dwell_s(6)
    h.send(b"SKSCAN 2 FFFFFFFF 6\r\n")
    seen = []
    for index in range(28):
        before = pans(h.wait(dwell * (index + 1) - 1e-6 - (h.t - T0)))
        after = pans(h.wait(2e-6))
        assert before == []
        seen += [int(p["Channel"], 16) for p in after]
        if after:
            assert [int(p["Channel"], 16) for p in after] == [0x21 + index]
    assert seen == sorted([n.channel for n in h.config.neighbours] + [OWN.channel])


def test_mask_selects_which_beacons_are_heard() -> None:
    h = Host("bp35c0", count=3)
    first, second, third = h.config.neighbours
    assert [int(p["Channel"], 16) for p in pans(h.scan(mask=bit(second.channel)))] == [second.channel]
    assert [p["Addr"] for p in pans(h.scan(mask=bit(OWN.channel)))] == [OWN.meter_mac]
    both = pans(h.scan(mask=bit(first.channel) | bit(third.channel)))
    assert [p["Addr"] for p in both] == [first.mac, third.mac]
    # Bits 28..31 name no channel; a mask of only those hears nothing.
    assert pans(h.scan(mask=0xF0000000)) == []


def test_mode_3_prints_no_pair_ids() -> None:
    h = Host("rl7023-ips", count=3)
    found = pans(h.scan(mode=3))
    assert len(found) == 4 and all("PairID" not in p for p in found)


def test_a_beacon_needs_its_minimum_scan_duration() -> None:
    quiet = NeighbourMeter(0x22, 0x4321, "001C640000004321", 0xF0, "0BADBEEF", min_scan_duration=7)
    h = Host("bp35a1", count=0, neighbours=(quiet,))
    assert [p["Addr"] for p in pans(h.scan(duration=6))] == [OWN.meter_mac]
    assert [p["Addr"] for p in pans(h.scan(duration=7))] == [quiet.mac, OWN.meter_mac]
    assert pans(h.scan(duration=4)) == []


def test_the_han_side_of_a_dual_stack_dongle_hears_no_meter() -> None:
    h = Host("bp35c0", count=3)
    out = h.send(b"SKSCAN 2 FFFFFFFF 6 1\r\n", 28 * scan_dwell_s(6) + 1)
    assert pans(out) == [] and b"EVENT 22 " in out


def test_a_silenced_household_meter_leaves_only_the_neighbours() -> None:
    h = Host("bp35a1", count=2)
    h.meter.silence(h.t, h.t + 3600)
    assert [p["Addr"] for p in pans(h.scan())] == [n.mac for n in h.config.neighbours]


# -- joining -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL)
def test_join_to_a_neighbour_fails_after_the_pana_retry_time(dialect: str) -> None:
    h = Host(dialect, count=3)
    h.credentials()
    n = h.config.neighbours[0]
    out = h.join(n.address, n.channel, n.pan_id, wait=h.config.pana_fail_time - 0.01)
    assert b"EVENT 24" not in out and b"EVENT 25" not in out
    assert f"EVENT 02 {n.address}".encode() in out  # the neighbour's meter is there...
    pana = [line for line in out.split(b"\r\n") if line.startswith(b"ERXUDP ")]
    assert pana and all(line.split()[1] == n.address.encode() and line.split()[3] == b"02CC" for line in pana)
    out = h.wait(0.02)  # ...but never accepts the household's credentials
    assert f"EVENT 24 {n.address}".encode() in out
    assert b"EVENT 25" not in out + h.wait(600)
    assert h.dongle.session == "none"


def test_join_to_a_neighbour_on_the_households_channel_settings_is_unreachable() -> None:
    h = Host("bp35a1", count=3)
    h.credentials()
    n = h.config.neighbours[1]
    out = h.join(n.address, OWN.channel, OWN.pan_id, wait=h.config.pana_fail_time + 1)
    assert b"EVENT 24" in out and b"ERXUDP" not in out and b"EVENT 02" not in out


@pytest.mark.parametrize("dialect", ALL)
def test_the_households_meter_still_joins_and_answers(dialect: str) -> None:
    h = Host(dialect, count=5)
    h.credentials()
    n = h.config.neighbours[-1]
    h.join(n.address, n.channel, n.pan_id, wait=h.config.pana_fail_time + 1)  # a wrong pick first
    out = h.join(OWN_IP, OWN.channel, OWN.pan_id, wait=h.config.join_time + 1)
    assert f"EVENT 25 {OWN_IP}".encode() in out and h.dongle.session == "up"
    frames = [line for line in out.split(b"\r\n") if line.startswith(b"ERXUDP ")]
    assert frames and all(line.split()[1] == OWN_IP.encode() for line in frames)


def test_no_frame_from_a_neighbour_reaches_the_host_during_a_session() -> None:
    h = Host("bp35c0", count=3)
    h.credentials()
    h.join(OWN_IP, OWN.channel, OWN.pan_id, wait=5)
    n = h.config.neighbours[0]
    req = bytes.fromhex("1081000105FF010288016201E700")
    out = h.send(f"SKSENDTO 1 {n.address} 0E1A 1 0 {len(req):04X} ".encode() + req, 5)
    assert f"EVENT 21 {n.address} 0 00".encode() in out  # sent...
    out += h.wait(3600)
    senders = {line.split()[1] for line in out.split(b"\r\n") if line.startswith(b"ERXUDP ")}
    assert not senders - {OWN_IP.encode()}  # ...and nothing ever comes back from a neighbour


# -- the in-process simulation and the command line ---------------------------------------------


def test_build_simulation_adds_neighbours() -> None:
    sim = build_simulation(VirtualClock(T0), "bp35a1", neighbours=4, seed=2)
    assert sim.dongle.config.neighbours == neighbourhood(sim.dongle.config, 4, seed=2)
    assert build_simulation(VirtualClock(T0), "bp35a1").dongle.config.neighbours == ()


def _root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("value", ["21", "-1", "three", "2.5", ""])
def test_simulate_rejects_a_bad_neighbour_count_in_one_line(value: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "logger", "simulate", "--neighbours", value, "--listen", "127.0.0.1:0"],
        capture_output=True,
        check=False,
        cwd=_root(),
        timeout=LIMIT,
    )
    assert proc.returncode == 2
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "--neighbours" in lines[0] and "0 to 20" in lines[0]


def test_simulate_serves_the_neighbours() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "logger", "simulate", "--neighbours", "3", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=_root(),
    )
    try:
        url = proc.stdout.readline().decode().strip()
        expected = neighbourhood(DongleConfig(), 3, seed=0)
        mask = bit(OWN.channel)
        for n in expected:
            mask |= bit(n.channel)
        with serial.serial_for_url(url, timeout=0.2) as port:
            port.write(f"SKSREG SFE 0\r\nSKSCAN 2 {mask:08X} 5\r\n".encode())  # 4 channels, ~1.2 s
            out, deadline = b"", time.monotonic() + LIMIT
            while b"EVENT 22" not in out:
                assert time.monotonic() < deadline and proc.poll() is None, out
                out += port.read(4096)
        assert [p["Addr"] for p in pans(out)] == [n.mac for n in expected] + [OWN.meter_mac]
        proc.terminate()
        proc.communicate(timeout=LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sksendto_with_a_missing_argument_answers_fail_er05_not_a_crash():
    import random

    from logger.simulate.dongle import DongleConfig, DongleSim
    from logger.simulate.meter import MeterConfig, MeterSim

    d = DongleSim("bp35a1", MeterSim(MeterConfig(), 0.0), DongleConfig(), random.Random(0))
    d.receive(b"SKSREG SFE 0\r\n", 1.0)
    d.receive(b"SKSENDTO 1  FE80:0000:0000:0000:021C:6400:03DD:8257 0E1A 0002 ab", 2.0)  # SEC missing
    assert d.output(3.0).endswith(b"FAIL ER05\r\n")
