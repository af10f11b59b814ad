"""The simulated dongle's time line: what it will do or print, and when (sans-I/O).

Actions are kept in time order with a power-on *generation*: a reset drops what the old
firmware had planned, except actions owned by nobody (``gen=None``: scripted faults, the
duty-limit release) which survive. Command answers are printed in order: an answer is never
due before the answer of an earlier command (:meth:`Timeline.reply`).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

Action = Callable[[float], None]


@dataclass(order=True)
class _Item:
    """A scheduled simulator action, ordered by time then by scheduling order."""

    at: float
    seq: int
    action: Action = field(compare=False)
    #: Power-on generation the item belongs to (None = survives resets).
    gen: int | None = field(compare=False, default=None)


class Timeline:
    """Timed actions plus the output buffer they print into."""

    def __init__(self) -> None:
        self._heap: list[_Item] = []
        self._seq = itertools.count()
        self.generation = 0
        #: Printed and not yet taken by :meth:`take_output`.
        self.out = bytearray()
        #: When the last command answer is due; the next answer comes no earlier.
        self.busy_until = float("-inf")

    def power_on(self, keep_until: float | None = None) -> None:
        """A new generation: the old one's plans are dropped, except those due by ``keep_until``
        (answers already queued before an ``SKRESET`` still reach the host)."""
        old = self.generation
        self.generation += 1
        kept = []
        for item in self._heap:
            if item.gen is None:
                kept.append(item)
            elif keep_until is not None and item.gen == old and item.at <= keep_until:
                item.gen = self.generation
                kept.append(item)
        self._heap = kept
        heapq.heapify(self._heap)
        self.busy_until = float("-inf")

    def at(self, when: float, action: Action, gen: int | None | bool = True) -> None:
        """Run ``action(when)`` at ``when``; ``gen=True`` = owned by the current generation."""
        owner = self.generation if gen is True else gen
        heapq.heappush(self._heap, _Item(when, next(self._seq), action, owner))  # type: ignore[arg-type]

    def emit(self, when: float, data: bytes) -> None:
        """Print ``data`` at ``when``."""
        self.at(when, lambda _t: self.out.extend(data))

    def reply(self, now: float, data: bytes) -> None:
        """A command answer: printed in order after earlier answers."""
        when = max(now, self.busy_until)
        self.busy_until = when
        self.emit(when, data)

    def print_now(self, data: bytes) -> None:
        self.out.extend(data)

    def take_output(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data

    def _drop_stale(self) -> None:
        while self._heap and self._heap[0].gen not in (None, self.generation):
            heapq.heappop(self._heap)

    def next_time(self) -> float:
        """When the next action is due (``inf`` when none is planned)."""
        self._drop_stale()
        return self._heap[0].at if self._heap else float("inf")

    def run_next(self) -> None:
        """Run the earliest action (call after :meth:`next_time` said it is due)."""
        self._drop_stale()
        item = heapq.heappop(self._heap)
        item.action(item.at)
