"""Servers around DongleSim: raw pty, TCP via pyserial, unplug/replug, SimLink on a virtual clock, the CLI."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import termios
import time

import pytest
import serial

from logger.clock import VirtualClock
from logger.echonet.frame import ESV, decode_frame, get_request
from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID, DongleConfig, DongleSim
from logger.simulate.faults import Fault, FaultPlan
from logger.simulate.meter import MeterConfig, MeterSim
from logger.simulate.server import PtyServer, SimLink, TcpServer

METER_IP = "FE80:0000:0000:0000:021C:6400:03DD:8257"
LIMIT = 10.0  # seconds any single read may wait (bounded, never asserted on)


def read_until(port: serial.Serial, marker: bytes, limit: float = LIMIT) -> bytes:
    data = bytearray()
    end = time.monotonic() + limit
    while marker not in data:
        if time.monotonic() > end:
            raise AssertionError(f"no {marker!r} within {limit} s; got {bytes(data)!r}")
        data += port.read(port.in_waiting or 1)
    return bytes(data)


def make_dongle(dialect: str = "bp35a1", **config) -> DongleSim:
    now = time.time()
    meter = MeterSim(MeterConfig(notify="none"), now)
    return DongleSim(dialect, meter, DongleConfig(join_time=0.3, **config), random.Random(3))


def join(port: serial.Serial) -> None:
    port.write(b"SKSREG SFE 0\r\n")
    read_until(port, b"OK\r\n")
    for cmd in (
        f"SKSETRBID {DEMO_RBID}",
        f"SKSETPWD C {DEMO_PASSWORD}",
        "SKSREG S2 3B",
        "SKSREG S3 8257",
    ):
        port.write(cmd.encode() + b"\r\n")
        read_until(port, b"OK\r\n")
    port.write(f"SKJOIN {METER_IP}\r\n".encode())
    read_until(port, b"EVENT 25")
    read_until(port, b"FF02:")  # the meter's instance-list INF


def test_pty_is_raw_and_passes_cr_lf_untouched() -> None:
    dongle = make_dongle("bp35a1")  # factory WOPT 00: binary ERXUDP
    with PtyServer(dongle) as server:
        server.start()
        fd = os.open(server.path, os.O_RDWR | os.O_NOCTTY)
        try:
            attrs = termios.tcgetattr(fd)
            assert not attrs[3] & termios.ECHO and not attrs[3] & termios.ICANON
            assert not attrs[0] & termios.ICRNL and not attrs[1] & termios.OPOST
        finally:
            os.close(fd)
        with serial.Serial(server.path, 115200, timeout=0.2) as port:
            join(port)
            port.read(port.in_waiting)
            payload = get_request(0x0D0A, [0xE7]).encode()  # TID bytes are CR LF
            assert b"\r\n" in payload
            port.write(f"SKSENDTO 1 {METER_IP} 0E1A 1 {len(payload):04X} ".encode() + payload)
            data = read_until(port, b" 0012 ")
            data += port.read(18 + 2)
            while len(data.split(b" 0012 ", 1)[1]) < 20:
                data += port.read(1)
        body = data.split(b" 0012 ", 1)[1]
        frame = decode_frame(body[:18])
        assert body[18:20] == b"\r\n"
        assert frame.tid == 0x0D0A and frame.esv == ESV.GET_RES
        assert frame.encode()[2:4] == b"\r\n"


def test_tcp_via_pyserial_socket_url_and_reconnect() -> None:
    dongle = make_dongle("bp35c0")
    with TcpServer(dongle, "127.0.0.1", 0) as server:
        server.start()
        assert server.url.startswith("socket://127.0.0.1:")
        with serial.serial_for_url(server.url, timeout=0.2) as port:
            port.write(b"SKVER\r\n")
            assert read_until(port, b"OK\r\n") == b"SKVER\r\nEVER 1.5.2\r\nOK\r\n"
        with serial.serial_for_url(server.url, timeout=0.2) as port:  # a second open works
            port.write(b"ROPT\r")
            assert read_until(port, b"OK 01\r") == b"ROPT\r\nOK 01\r"


def test_tcp_unplug_closes_connection_and_accepts_a_new_one() -> None:
    dongle = make_dongle("rl7023-ips", faults=FaultPlan(scripted=[Fault(time.time() + 0.5, "unplug")]))
    with TcpServer(dongle, "127.0.0.1", 0) as server:
        server.start()
        with serial.serial_for_url(server.url, timeout=0.2) as port:
            port.write(b"SKSREG SFE 0\r\n")
            read_until(port, b"OK\r\n")
            end = time.monotonic() + LIMIT
            closed = False
            while not closed and time.monotonic() < end:
                try:
                    port.write(b"SKVER\r\n")
                    port.read(64)
                except serial.SerialException:
                    closed = True
            assert closed, "the server must close the connection on unplug"
        assert dongle.counters.unplugs == 1 and server.replugs == 1
        with serial.serial_for_url(server.url, timeout=0.2) as port:
            port.write(b"SKVER\r\n")  # echo is back on after the power cycle
            assert read_until(port, b"OK\r\n").startswith(b"SKVER\r\n")


def test_pty_unplug_moves_the_link_to_a_new_pty(tmp_path) -> None:
    link = str(tmp_path / "dongle")
    dongle = make_dongle("bp35a1", faults=FaultPlan(scripted=[Fault(time.time() + 0.3, "unplug")]))
    with PtyServer(dongle, link=link) as server:
        first = os.readlink(link)
        server.start()
        end = time.monotonic() + LIMIT
        while server.replugs == 0 and time.monotonic() < end:
            time.sleep(0.05)
        assert server.replugs == 1 and os.readlink(link) != first
        with serial.Serial(link, 115200, timeout=0.2) as port:
            port.write(b"SKVER\r\n")
            assert read_until(port, b"OK\r\n") == b"SKVER\r\nEVER 1.2.10\r\nOK\r\n"
    assert not os.path.lexists(link)


def test_simlink_runs_a_simulated_day_on_a_virtual_clock() -> None:
    start = 1_780_000_000.0
    clock = VirtualClock(start)
    meter = MeterSim(MeterConfig(notify="inf"), start)
    link = SimLink(DongleSim("rl7023-ips", meter, DongleConfig(), random.Random(1)), clock)
    link.write(b"SKSREG SFE 0\r\n")
    link.write(f"SKSETRBID {DEMO_RBID}\r\nSKSETPWD C {DEMO_PASSWORD}\r\nSKSREG S2 3B\r\nSKSREG S3 8257\r\n".encode())
    link.write(f"SKJOIN {METER_IP}\r\n".encode())
    out = bytearray()
    while (deadline := link.next_deadline()) is not None and deadline <= start + 86400 + 60:
        clock.sleep_until(deadline)
        out += link.read_available()
    pushes = [line for line in out.split(b"\r\n") if line.startswith(b"ERXUDP") and b" 0E1A 0E1A " in line]
    frames = [decode_frame(bytes.fromhex(line.split()[-1].decode())) for line in pushes]
    eas = [f for f in frames if f.esv == ESV.INF and f.prop(0xEA) is not None]
    assert 47 <= len(eas) <= 48  # one per half hour of the day
    assert b"EVENT 29" in out and out.count(b"EVENT 25") == 2  # 24 h lifetime: expiry and re-auth


def _root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_simulate_command_rejects_a_bad_listen_address() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "logger", "simulate", "--listen", "localhost"],
        capture_output=True,
        check=False,
        cwd=_root(),
        timeout=LIMIT,
    )
    assert proc.returncode == 2 and b"not HOST:PORT" in proc.stderr


def test_simulate_command_prints_url_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "logger",
            "simulate",
            "--dongle",
            "bp35c2",
            "--listen",
            "127.0.0.1:0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=_root(),
    )
    try:
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("socket://127.0.0.1:")
        with serial.serial_for_url(url, timeout=0.2) as port:
            port.write(b"SKVER\r\n")
            assert read_until(port, b"OK\r\n") == b"SKVER\r\nEVER 1.5.2\r\nOK\r\n"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0


@pytest.mark.parametrize("dialect", ["bp35a1", "rl7023-dss"])
def test_simulate_command_serves_a_pty_until_sigterm(dialect: str) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "logger",
            "simulate",
            "--dongle",
            dialect,
            "--password",
            "ZZSECRETZZ12",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=_root(),
    )
    try:
        path = proc.stdout.readline().decode().strip()
        assert path.startswith("/dev/")
        with serial.Serial(path, 115200, timeout=0.2) as port:
            port.write(b"SKINFO\r\n")
            assert read_until(port, b"OK\r\n").startswith(b"SKINFO\r\nEINFO ")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert b"ZZSECRETZZ12" not in out + err
