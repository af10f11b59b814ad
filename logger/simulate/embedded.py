"""The simulator inside the logger's own process (``run --simulate`` and tests).

Builds a :class:`MeterSim` + :class:`DongleSim` pair that accepts the given credentials
and returns a transport factory for the runner. With a :class:`VirtualClock` the whole
stack runs a simulated day in seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from logger.clock import Clock
from logger.simulate.dongle import DEMO_PASSWORD, DEMO_RBID, DongleConfig, DongleSim
from logger.simulate.meter import MeterConfig, MeterSim
from logger.transport import SimTransport


@dataclass
class Simulation:
    dongle: DongleSim
    meter: MeterSim
    clock: Clock

    def open(self) -> SimTransport:
        """The runner's ``open_transport``: a fresh connection to the same simulated dongle."""
        return SimTransport(self.dongle, self.clock)


def build_simulation(
    clock: Clock,
    dialect: str = "bp35a1",
    rbid: str = DEMO_RBID,
    password: str = DEMO_PASSWORD,
    meter: MeterConfig | None = None,
    dongle: DongleConfig | None = None,
    seed: int = 0,
) -> Simulation:
    start = clock.time()
    meter_sim = MeterSim(meter or MeterConfig(seed=seed), start)
    config = dongle or DongleConfig()
    config.rbid, config.password = rbid, password
    dongle_sim = DongleSim(dialect, meter_sim, config, random.Random(seed))
    return Simulation(dongle_sim, meter_sim, clock)
