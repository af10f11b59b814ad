"""Cross-check: broute-j11 0.1.0, written for real J11 adapters, talks to the J11 simulator on a raw pty.

broute-j11 is the judge of the simulator, not the other way round: nothing in the simulator
is bent to it. Its public API (``SerialTransport`` + ``J11Session``) resets the adapter,
reads the firmware version, sets the initial settings and the credentials, scans with the
pairing ID (duration 8, channels 4..17), re-sets the channel, starts B-route, opens port
0E1A, starts PANA, reads D3/D7/E1 (and the identity properties), then polls E7/E8/E0/E3
and finally ends PANA. Only the scan dwell and the join delay are shortened.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from decimal import Decimal

import pytest

broute_j11 = pytest.importorskip("broute_j11")

from logger.echonet.frame import ESV, Frame
from logger.simulate.dongle_config import DEMO_PASSWORD, DEMO_RBID, DongleConfig
from logger.simulate.j11 import J11Sim
from logger.simulate.meter import MeterConfig, MeterSim
from logger.simulate.neighbours import neighbourhood
from logger.simulate.server import PtyServer

LIMIT = 60.0
UNITS = {0x00: Decimal(1), 0x01: Decimal("0.1"), 0x02: Decimal("0.01"), 0x03: Decimal("0.001")}


class RecordingMeter:
    """A MeterSim whose answers are kept, so the test knows exactly what the meter said."""

    def __init__(self, meter: MeterSim) -> None:
        self.meter = meter
        self.answers: list[tuple[float, Frame]] = []

    def handle(self, frame: Frame, now: float) -> list[Frame]:
        out = self.meter.handle(frame, now)
        self.answers += [(now, f) for f in out]
        return out

    def __getattr__(self, name: str):
        return getattr(self.meter, name)

    def last(self, epc: int) -> tuple[float, bytes]:
        for at, frame in reversed(self.answers):
            prop = frame.prop(epc)
            if frame.esv in (ESV.GET_RES, ESV.GET_SNA) and prop is not None and prop.edt:
                return at, prop.edt
        raise AssertionError(f"the meter never answered a Get of {epc:02X}")


def run_broute(neighbours: int = 0, password: str = DEMO_PASSWORD) -> tuple[RecordingMeter, J11Sim, dict]:
    start = time.time()
    meter = RecordingMeter(MeterSim(MeterConfig(notify="none", coefficient=2, unit=0x01), start))
    config = DongleConfig(scan_time_scale=0.02, join_time=1.0, pana_fail_time=2.0, latency=(0.05, 0.1))
    if neighbours:
        config.neighbours = neighbourhood(config, neighbours, seed=3)
    adapter = J11Sim(meter, config, random.Random(5))
    result: dict = {}

    async def session(path: str) -> None:
        transport = broute_j11.SerialTransport(path)
        cfg = broute_j11.SessionConfig(auth_id=DEMO_RBID, password=password, pana_timeout=10.0)
        async with broute_j11.J11Session(transport, cfg) as s:
            result["link"] = s.link
            result["profile"] = s.profile
            result["reading"] = await s.async_read_meter()
            result["read_at"] = time.time()

    def worker(path: str) -> None:
        try:
            asyncio.run(session(path))
        except Exception as exc:  # noqa: BLE001 - handed to the test thread
            result["error"] = exc

    with PtyServer(adapter) as server:
        server.start()
        thread = threading.Thread(target=worker, args=(server.path,), daemon=True)
        thread.start()
        thread.join(LIMIT)
        assert not thread.is_alive(), f"broute-j11 did not finish within {LIMIT} s"
    return meter, adapter, result


@pytest.mark.parametrize("neighbours", [0, 3])
def test_broute_j11_reads_power_and_energy(neighbours: int) -> None:
    meter, adapter, result = run_broute(neighbours)
    assert "error" not in result, repr(result.get("error"))
    link = result["link"]
    assert link.mac_address == bytes.fromhex(adapter.config.meter_mac)
    assert link.pan_id == adapter.config.pan_id
    assert link.channel == 17  # SKSTACK channel 0x3B = 927.7 MHz = J11 channel 17

    at, e7 = meter.last(0xE7)
    power = int.from_bytes(e7, "big", signed=True)
    assert power == meter.meter.power_w(at)
    assert result["reading"].instantaneous_power == power

    _, d3 = meter.last(0xD3)
    _, e1 = meter.last(0xE1)
    at_e0, e0 = meter.last(0xE0)
    raw = int.from_bytes(e0, "big")
    assert int.from_bytes(d3, "big") == 2 and result["profile"].coefficient == 2
    assert raw == meter.meter.true_counter(at_e0)
    assert result["reading"].cumulative_forward_energy == Decimal(raw) * 2 * UNITS[e1[0]]
    assert adapter.pana == "none"  # broute-j11's close ended PANA


def test_broute_j11_wrong_password_is_an_authentication_error() -> None:
    _meter, _adapter, result = run_broute(password="WRONGPASSWD1")
    assert isinstance(result.get("error"), broute_j11.AuthenticationError), repr(result.get("error"))
