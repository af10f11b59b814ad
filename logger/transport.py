"""The only module that talks to the dongle: pyserial (device paths and URLs) or the
in-process simulator.

Every transport has ``write(data)``, ``read_until(deadline) -> bytes`` (whatever arrived,
possibly nothing, returning no later than ``deadline``, on the clock's monotonic scale) and
``close()``. Failures become :class:`TransportError` with a message that says what to do.
"""

from __future__ import annotations

from logger.clock import Clock, world_time
from logger.port_errors import explain_port_error
from logger.typehints import Protocol


class TransportError(Exception):
    """The port could not be opened or broke (unplugged, permission, busy)."""


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...

    def read_until(self, deadline: float) -> bytes: ...  # deadline on the clock's monotonic scale

    def close(self) -> None: ...


def explain_open_error(port: str, exc: BaseException, setting: str = "SERIAL_PORT", device: str = "dongle") -> str:
    """:func:`logger.port_errors.explain_port_error` as one line: ``<what was found>: <the fix>``."""
    found, fix = explain_port_error(port, exc, setting, device)
    return f"{found}: {fix}"


class SerialTransport:
    """A dongle on a serial device or any pyserial URL (``socket://host:port``, ``rfc2217://``)."""

    def __init__(self, port: str, baudrate: int, clock: Clock) -> None:
        import serial  # imported here so the simulator path does not load pyserial's tools

        self._serial_mod = serial
        self.port = port
        self._clock = clock
        try:
            if "://" in port:
                self._ser = serial.serial_for_url(port, baudrate=baudrate, timeout=0)
            else:
                self._ser = serial.Serial(port, baudrate=baudrate, timeout=0, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(explain_open_error(port, exc)) from exc

    def write(self, data: bytes) -> None:
        try:
            self._ser.write(data)
            self._ser.flush()
        except (self._serial_mod.SerialException, OSError) as exc:
            raise TransportError(f"write to {self.port} failed ({exc}): dongle unplugged?") from exc

    def read_until(self, deadline: float) -> bytes:
        timeout = max(0.0, deadline - self._clock.monotonic())
        try:
            self._ser.timeout = timeout
            first = self._ser.read(1)
            if not first:
                return b""
            self._ser.timeout = 0
            waiting = self._ser.in_waiting
            return first + (self._ser.read(waiting) if waiting else b"")
        except (self._serial_mod.SerialException, OSError, TypeError) as exc:
            raise TransportError(f"read from {self.port} failed ({exc}): dongle unplugged?") from exc

    def close(self) -> None:
        try:
            self._ser.close()
        except (self._serial_mod.SerialException, OSError):
            pass


class SimTransport:
    """The in-process simulated dongle (``run --simulate`` and tests). With a virtual
    clock, waiting jumps straight to the dongle's next output: a day runs in seconds."""

    def __init__(self, dongle, clock: Clock, sent: list[tuple[float, bytes]] | None = None) -> None:
        self._dongle = dongle
        self._clock = clock
        self._sent = sent
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise TransportError("simulated port is closed")
        if self._dongle.take_unplug():
            self._closed = True
            raise TransportError("simulated dongle unplugged")

    def write(self, data: bytes) -> None:
        self._check()
        now = world_time(self._clock)  # the dongle lives on the true time, not the host's clock
        if self._sent is not None:
            self._sent.append((now, bytes(data)))
        self._dongle.receive(data, now)

    def read_until(self, deadline: float) -> bytes:
        self._check()
        now = world_time(self._clock)
        out = self._dongle.output(now)
        if out:
            return out
        nd = self._dongle.next_deadline()
        mono = self._clock.monotonic()
        self._clock.sleep_until(deadline if nd is None else max(mono, min(deadline, mono + (nd - now))))
        self._check()
        return self._dongle.output(world_time(self._clock))

    def close(self) -> None:
        self._closed = True
