"""A sans-I/O ROHM J11 adapter (binary command set: RATOC RS-WSUHA-J11, ROHM BP35C1-J11-T01).

:class:`J11Sim` serves the same :class:`~logger.simulate.meter.MeterSim` and radio world
(:class:`~logger.simulate.dongle_config.DongleConfig`) as the SKSTACK-IP
:class:`~logger.simulate.dongle.DongleSim`, with the same interface the servers use
(``receive``, ``output``, ``next_deadline``, ``take_unplug``). An independent implementation
of the wire protocol: it imports nothing from the host side (``logger.j11``).

* :mod:`.frames`   the 12-byte header, checksums, request reader with resynchronisation
* :mod:`.core`     state, time, notifications, meter traffic, faults
* :mod:`.commands` the commands a B-route client uses (facts and sources in its docstring)
"""

from __future__ import annotations

from logger.simulate.j11.commands import J11Commands


class J11Sim(J11Commands):
    """A simulated J11 adapter with a meter behind it (see the package docstring)."""


__all__ = ["J11Sim"]
