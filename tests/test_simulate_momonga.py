"""Cross-check: momonga 0.7.0, written for real dongles, talks to the simulator over a raw pty.

momonga is the judge of the simulator, not the other way round: nothing in the simulator
is bent to it. It opens the port, clears it, asks ROPT (switching a binary ROHM stick to
hex with WOPT 01), detects the family from SKINFO's 5th field, resets, writes SA2=1, sets
the credentials, scans (SKSCAN 2 FFFFFFFF 6 [0]), joins, reads E1 and D3, then E7 and E0.
Only the scan dwell (x0.05), join and termination delays are shortened, which keeps the
order of everything momonga sees.

momonga writes ``SKSREG SA2 1`` unconditionally and documents BP35A1-family modules as
working (without the LQI field), so every simulated dialect must take it; on the binary
BP35A1 momonga first switches the flash setting to hex with ``WOPT 01``.
"""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

import pytest

momonga = pytest.importorskip("momonga")

from logger.echonet.frame import ESV, Frame
from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID, DongleConfig, DongleSim
from logger.simulate.meter import MeterConfig, MeterSim
from logger.simulate.server import PtyServer

LIMIT = 90.0  # whole-session bound per dialect (seconds); never asserted on otherwise
UNITS = {
    0x00: Decimal(1),
    0x01: Decimal("0.1"),
    0x02: Decimal("0.01"),
    0x03: Decimal("0.001"),
}


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
            if frame.esv == ESV.GET_RES and prop is not None:
                return at, prop.edt
        raise AssertionError(f"the meter never answered a Get of {epc:02X}")


def run_momonga(dialect: str, meter_config: MeterConfig) -> tuple[RecordingMeter, DongleSim, dict]:
    start = time.time()
    meter = RecordingMeter(MeterSim(meter_config, start))
    config = DongleConfig(scan_time_scale=0.05, join_time=1.0, term_time=0.3)
    dongle = DongleSim(dialect, meter, config, random.Random(11))
    result: dict = {}

    def session(path: str) -> None:
        try:
            mo = momonga.Momonga(DEMO_RBID, DEMO_PASSWORD, path, scan_retries=1, join_retries=1)
            mo.internal_xmit_interval = 0.2  # momonga's own pause between requests
            with mo:
                result["unit"] = mo.energy_unit
                result["coefficient"] = mo.energy_coefficient
                result["power"] = mo.get_instantaneous_power()
                result["energy"] = mo.get_measured_cumulative_energy()
        except (momonga.MomongaError, OSError) as exc:  # handed to the test thread
            result["error"] = exc

    with PtyServer(dongle) as server:
        server.start()
        worker = threading.Thread(target=session, args=(server.path,), daemon=True)
        worker.start()
        worker.join(LIMIT)
        assert not worker.is_alive(), f"momonga did not finish within {LIMIT} s on {dialect}"
    return meter, dongle, result


@pytest.mark.parametrize("dialect", ["bp35a1", "rl7023-ips", "rl7023-dss", "bp35c0"])
def test_momonga_reads_power_and_energy(dialect: str) -> None:
    meter, dongle, result = run_momonga(dialect, MeterConfig(notify="none", coefficient=2, unit=0x01))
    assert "error" not in result, repr(result.get("error"))

    at, e7 = meter.last(0xE7)
    power = int.from_bytes(e7, "big", signed=True)
    assert power == meter.meter.power_w(at)  # the frame is the meter's own value
    assert result["power"] == power

    _, d3 = meter.last(0xD3)
    _, e1 = meter.last(0xE1)
    at_e0, e0 = meter.last(0xE0)
    raw = int.from_bytes(e0, "big")
    coefficient = int.from_bytes(d3, "big")
    assert coefficient == 2 and result["coefficient"] == 2
    assert raw == meter.meter.true_counter(at_e0)
    expected = Decimal(raw) * coefficient * UNITS[e1[0]]
    assert result["energy"] == pytest.approx(float(expected), rel=1e-12)

    assert dongle.session == "none"  # momonga's close() sent SKTERM and saw EVENT 27


def test_momonga_switches_a_binary_bp35a1_to_hex() -> None:
    _meter, dongle, result = run_momonga("bp35a1", MeterConfig(notify="none"))
    assert result.get("error") is None
    assert dongle.wopt == 1  # ROPT said 00 (binary), momonga wrote WOPT 01 (flash)
