"""Flow primitives and the one flow driver of the dongle link.

A *flow* is a generator that talks to the dongle one step at a time. It yields

* :class:`Send` — bytes to write to the dongle (``shown`` is the text for logs, secrets masked);
* :class:`Wait` — "resume me with the next event, or with ``None`` at ``deadline``";
* :class:`Note` — a milestone for a person (doctor prints it, ``run`` logs it);
* :class:`Progress` — where a long step stands now (``run`` shows the latest every few seconds
  while nothing is recorded yet; a newer one replaces it);

and is resumed with each parsed SKSTACK event (or whatever the owner routes to it), or with
``None`` when the deadline passes. Flows read the time from their :class:`~logger.link.link.Link`
(``link.now``), which the owner advances; nothing here waits, sleeps or reads a clock.

:class:`Driver` runs one flow at a time — ``run``'s session and ``doctor`` both use it — and
turns what the flow yields into :class:`Send`/:class:`Note` actions in :attr:`Driver.outbox`.
The building blocks every flow is written with are :func:`command`, :func:`wait_for` and
:func:`sleep`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from logger.skstack.events import Fail, Ll64, Ok, mask_command
from logger.typehints import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logger.link.link import Link

Flow = Generator[Any, Any, Any]


@dataclass(frozen=True, slots=True)
class Send:
    """Write ``data`` to the dongle (``shown`` is how logs show it, secrets masked)."""

    data: bytes
    shown: str


@dataclass(frozen=True, slots=True)
class Wait:
    """Resume the flow with the next event, or with None at ``deadline``."""

    deadline: float


@dataclass(frozen=True, slots=True)
class Note:
    """A milestone for a person: ``doctor`` prints it, ``run`` logs it."""

    text: str


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a long step stands now (the newest replaces the one before)."""

    text: str


@dataclass(slots=True)
class Reply:
    """The end of one command: ``final`` is OK/FAIL/SKLL64's address, None on time-out."""

    final: Ok | Fail | Ll64 | None
    events: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return isinstance(self.final, (Ok, Ll64))


def describe(data: bytes) -> str:
    """Printable text of a command for logs: credentials masked, SKSENDTO data left out."""
    if data.startswith(b"SKSENDTO"):
        return b" ".join(data.split(b" ")[:5]).decode("ascii", "replace") + " ..."
    if data in (b"\r\n", b"\r"):
        return "<line end> (flush a half-typed line)"
    return mask_command(data.split(b"\r", 1)[0].decode("ascii", "replace"))


def send(data: bytes) -> Send:
    return Send(data, describe(data))


def command(link: Link, data: bytes, timeout: float, until_ll64: bool = False, shown: str | None = None) -> Flow:
    """Send one command and collect what the dongle says until OK/FAIL (or SKLL64's address).

    ``shown``: how the command reads in logs (default: SKSTACK text, credentials masked)."""
    yield Send(data, shown if shown is not None else describe(data))
    deadline = link.now + timeout
    events: list[Any] = []
    while True:
        ev = yield Wait(deadline)
        if ev is None:
            return Reply(None, events)
        if isinstance(ev, (Ok, Fail)) or (until_ll64 and isinstance(ev, Ll64)):
            return Reply(ev, events)
        events.append(ev)


def checked(link: Link, data: bytes, what: str, timeout: float | None = None, shown: str | None = None) -> Flow:
    """:func:`command` that must get an answer (OK or FAIL): :class:`DongleSilent` on time-out."""
    from logger.link.errors import DongleSilent

    r = yield from command(link, data, link.settings.command_timeout_s if timeout is None else timeout,
                           shown=shown)
    if r.final is None:
        raise DongleSilent(what, link.received)
    return r


def wait_for(link: Link, predicate: Callable[[Any], bool], timeout: float,
              collect: list | None = None) -> Flow:
    """The first event for which ``predicate`` is true, or None after ``timeout`` seconds."""
    deadline = link.now + timeout
    while True:
        ev = yield Wait(deadline)
        if ev is None or predicate(ev):
            return ev
        if collect is not None:
            collect.append(ev)


def sleep(link: Link, seconds: float) -> Flow:
    """Let ``seconds`` pass (events meanwhile are ignored by this flow)."""
    deadline = link.now + seconds
    while True:
        if (yield Wait(deadline)) is None:
            return


class Driver:
    """Runs one flow at a time; the owner feeds it events and time-outs.

    ``outbox`` collects :class:`Send`, :class:`Note` and :class:`Progress` items in order. A flow's return
    value is kept in :attr:`result`; an exception it raises propagates out of
    :meth:`start`/:meth:`resume` to the owner (who decides what it means).
    """

    def __init__(self) -> None:
        self.flow: Flow | None = None
        self.deadline: float | None = None
        self.outbox: list[Send | Note | Progress] = []
        self.result: Any = None
        self._running: Flow | None = None  # the generator executing right now (cannot be closed)

    @property
    def busy(self) -> bool:
        return self.flow is not None

    def start(self, flow: Flow) -> None:
        self.abort()
        self.flow = flow
        self.result = None
        self._step(None)

    def abort(self) -> None:
        """Drop the current flow. A flow may start another from inside itself: the running
        generator is then simply abandoned (it cannot be closed while it executes)."""
        if self.flow is not None and self.flow is not self._running:
            self.flow.close()
        self.flow = None
        self.deadline = None

    def waiting(self) -> bool:
        return self.flow is not None and self.deadline is not None

    def resume(self, value: Any) -> None:
        """Resume the waiting flow with ``value`` (an event; ``None`` = its deadline passed)."""
        if not self.waiting():
            return
        self.deadline = None
        self._step(value)

    def tick(self, now: float) -> None:
        if self.waiting() and now >= self.deadline:  # type: ignore[operator]
            self.resume(None)

    def _step(self, value: Any) -> None:
        flow = self.flow
        while flow is not None:
            self._running = flow
            try:
                item = flow.send(value)
            except StopIteration as stop:
                if self.flow is flow:
                    self.flow = None
                    self.deadline = None
                    self.result = stop.value
                return
            except BaseException:
                if self.flow is flow:
                    self.flow = None
                    self.deadline = None
                raise
            finally:
                self._running = None
            if self.flow is not flow:  # the flow started another one and ends here
                flow = self.flow
                if flow is None or self.deadline is not None:
                    return
                continue
            value = None
            if isinstance(item, (Send, Note, Progress)):
                self.outbox.append(item)
            elif isinstance(item, Wait):
                self.deadline = item.deadline
                return
            else:
                raise TypeError(f"flow yielded {item!r}")

    def drain(self) -> list[Send | Note | Progress]:
        out, self.outbox = self.outbox, []
        return out
