"""The ARIB STD-T108 transmit-time budget of the simulated dongle (facts sheet, section 4).

Each transmission costs ``(len(payload) + 56) x 8 / 100 kbps + 5 ms`` (56 bytes of
PHY/MAC/security/6LoWPAN/UDP overhead, 5 ms for CCA and ACK), counted over a sliding hour.
A send that would take the hour past the cap (360 s) engages the limit: the dongle prints
``EVENT 32`` once, SFB reads 1 and every send is refused until the hour has room for that
frame again, when ``EVENT 33`` prints and SFB reads 0. SFD is the transmit time in ms since
power-on. Only the arithmetic lives here; :mod:`logger.simulate.udp` prints the events.
"""

from __future__ import annotations

from collections import deque

PHY_BITRATE = 100_000
FRAME_OVERHEAD_BYTES = 56
CCA_ACK_S = 0.005
HOUR = 3600.0


def airtime_s(payload_len: int) -> float:
    """Seconds on air for one UDP payload of ``payload_len`` bytes (see the module docstring)."""
    return (payload_len + FRAME_OVERHEAD_BYTES) * 8 / PHY_BITRATE + CCA_ACK_S


class DutyBudget:
    """Transmit time spent in the sliding hour, and whether the limit is engaged."""

    def __init__(self, cap_s: float) -> None:
        self.cap_s = cap_s
        #: ``(start, seconds)`` of each transmission in the last hour.
        self.window: deque[tuple[float, float]] = deque()
        #: Total transmit time since the simulation started (survives resets), in ms.
        self.total_ms = 0.0
        #: Transmit time since the last power-on (SFD), in ms.
        self.since_boot_ms = 0.0
        #: The limit is engaged (SFB); survives resets, like the release timer.
        self.limited = False

    def power_on(self) -> None:
        self.since_boot_ms = 0.0

    def _prune(self, now: float) -> None:
        while self.window and self.window[0][0] <= now - HOUR:
            self.window.popleft()

    def used_s(self, now: float) -> float:
        """Transmit time in the hour before ``now`` (seconds)."""
        self._prune(now)
        return sum(cost for _, cost in self.window)

    def account(self, t: float, payload_len: int) -> None:
        """One transmission of ``payload_len`` bytes starting at ``t``."""
        cost = airtime_s(payload_len)
        self.window.append((t, cost))
        self.total_ms += cost * 1000
        self.since_boot_ms += cost * 1000

    def refusal(self, t: float, cost: float) -> float | None:
        """None if a frame of ``cost`` seconds fits the hour at ``t``; otherwise engage the limit
        and return when enough of the window will have aged out for it to fit."""
        used = self.used_s(t)
        if used + cost <= self.cap_s:
            return None
        self.limited = True
        release = t
        for at, old in self.window:
            used -= old
            release = at + HOUR
            if used + cost <= self.cap_s:
                break
        return release
