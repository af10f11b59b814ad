"""The live side of the web page: a sink the runner hands every batch of readings to.

Thread model. :meth:`LiveFeed.write` runs in the runner's loop. It does O(1) work per reading
under a lock that is only ever held for a few dictionary and deque operations (no I/O, no
waiting for anybody), appends the batch to a bounded backlog and notifies the condition.
The web server's threads wait on that condition, copy what is new and write to their
sockets *outside* the lock, so a slow or stalled browser costs only its own thread: the
loop never waits for a client. Nobody connected: the batch is still kept (the backlog is
bounded) and the newest value per property remembered, nothing else.

The feed is not a store: the page's history comes from the CSV files (:mod:`logger.web.history`);
the feed only carries what arrived since, and the newest value of each property.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

from logger.readings import Reading

#: batches kept for clients that are catching up (about ten minutes at the default schedule)
BACKLOG = 128


class LiveFeed:
    """A :class:`~logger.runner.Sink` for the web page. ``session`` (set by ``build_app``) is
    read, never written, for the status line (phase, signal)."""

    def __init__(self, unitid: str) -> None:
        self.unitid = unitid
        self.session = None
        self._cond = threading.Condition(threading.Lock())
        self._batches: deque[tuple[int, tuple[Reading, ...]]] = deque(maxlen=BACKLOG)
        self._seq = 0
        self._latest: dict[tuple[str, str], Reading] = {}
        self._closed = False

    # ------------------------------------------------------------------ the runner's side

    def write(self, readings: Sequence[Reading]) -> None:
        mine = tuple(r for r in readings if r.unitid == self.unitid)
        if not mine:
            return
        with self._cond:
            self._seq += 1
            self._batches.append((self._seq, mine))
            latest = self._latest
            for r in mine:
                old = latest.get((r.epc, r.dataid))
                if old is None or r.timestamp >= old.timestamp:  # a backfilled row is older
                    latest[(r.epc, r.dataid)] = r
            self._cond.notify_all()

    def close(self, timeout_s: float) -> None:
        """The logger stops: open event streams end."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ the web server's side

    @property
    def seq(self) -> int:
        with self._cond:
            return self._seq

    def latest(self) -> dict[tuple[str, str], Reading]:
        """The newest reading of each (epc, dataid) seen since the start."""
        with self._cond:
            return dict(self._latest)

    def wait(self, after: int, timeout_s: float) -> tuple[int, list[Reading], bool, bool]:
        """Readings of the batches after ``after``, waiting up to ``timeout_s`` for one:
        ``(seq, readings, lost, closed)``; ``lost`` when batches after ``after`` have already
        left the backlog (the client should reload its history)."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after or self._closed, timeout_s)
            new = [batch for seq, batch in self._batches if seq > after]
            oldest = self._batches[0][0] if self._batches else self._seq + 1
            lost = self._seq > after and oldest > after + 1
            seq, closed = self._seq, self._closed
        return seq, [r for batch in new for r in batch], lost, closed
