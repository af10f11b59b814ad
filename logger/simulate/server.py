"""Transports that put a :class:`~logger.simulate.dongle.DongleSim` where a serial port would be.

* :class:`SimLink` - in-process, driven by a clock (``RealClock`` or ``VirtualClock``), so a
  logger can embed the simulator and run a simulated day in seconds: ``write(bytes)``,
  ``read_available() -> bytes`` (alias ``read()``), ``next_deadline()``.
* :class:`PtyServer` - a pseudo-terminal in raw mode (``tty.setraw`` on the slave: no CR/LF
  translation, no terminal echo). Clients open :attr:`PtyServer.path` like a USB dongle.
  With ``link`` a stable symlink points at the current pty (an ``unplug`` fault replaces
  the pty, as re-plugging a stick may give it a new device name).
* :class:`TcpServer` - one client at a time on ``HOST:PORT``, reachable from pyserial as
  ``socket://HOST:PORT``; after a disconnect or an ``unplug`` fault a new connection is
  accepted.

These are the only parts of the simulator that do I/O. Both servers run in real time:
a select loop that wakes at the dongle's ``next_deadline()`` (at least every 0.2 s so
:meth:`stop` is prompt). While no client is connected, what the dongle prints is lost,
as on a USB-serial bridge whose port nobody holds open (the pty keeps buffering it like a
kernel tty, up to :data:`MAX_PENDING` bytes).
"""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
import tty
from abc import ABC, abstractmethod

from logger.clock import Clock, RealClock, world_time
from logger.simulate.dongle import DongleSim

#: Longest wait of a server loop between looks at its stop flag (seconds).
POLL_S = 0.2
#: Output not yet accepted by the client beyond this is dropped (a UART would overrun).
MAX_PENDING = 1 << 20


class SimLink:
    """In-process transport: host bytes in, dongle bytes out, on the given clock."""

    def __init__(self, dongle: DongleSim, clock: Clock) -> None:
        self.dongle = dongle
        self.clock = clock

    def write(self, data: bytes) -> int:
        self.dongle.receive(bytes(data), world_time(self.clock))
        return len(data)

    def read_available(self) -> bytes:
        """Everything the dongle printed up to the clock's current time."""
        return self.dongle.output(world_time(self.clock))

    read = read_available

    def next_deadline(self) -> float | None:
        return self.dongle.next_deadline()


class _Server(ABC):
    """The shared real-time loop; subclasses provide the endpoint."""

    def __init__(self, dongle: DongleSim, clock: Clock | None) -> None:
        self.dongle = dongle
        self.clock = clock or RealClock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending = bytearray()
        #: How many times a client endpoint was (re)opened after an unplug.
        self.replugs = 0

    # -- endpoint hooks ------------------------------------------------------------------
    @abstractmethod
    def _read_fds(self) -> list[int]:
        """File descriptors to wait on for input (the client, or the listener while none)."""

    @abstractmethod
    def _write_fd(self) -> int | None:
        """Where output goes, or None while no client is connected (output is then dropped)."""

    @abstractmethod
    def _write(self, data: bytearray) -> int:
        """Write some of ``data``; return how many bytes were taken."""

    @abstractmethod
    def _on_readable(self, fd: int) -> None:
        """Handle input (or a new connection) on ``fd``."""

    @abstractmethod
    def _unplug(self) -> None:
        """Close the client's endpoint after an ``unplug`` fault and offer a fresh one."""

    @abstractmethod
    def close(self) -> None:
        """Release every descriptor."""

    # -- loop ----------------------------------------------------------------------------
    def _timeout(self) -> float:
        deadline = self.dongle.next_deadline()
        if deadline is None:
            return POLL_S
        return min(max(deadline - world_time(self.clock), 0.0), POLL_S)

    def _queue(self, data: bytes) -> None:
        if self._write_fd() is None:
            return
        self._pending += data
        if len(self._pending) > MAX_PENDING:
            del self._pending[: len(self._pending) - MAX_PENDING]

    def _flush(self) -> None:
        fd = self._write_fd()
        if fd is None or not self._pending:
            return
        try:
            sent = self._write(self._pending)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EPIPE, errno.ECONNRESET):
                self._lost_client()
                return
            raise
        del self._pending[:sent]

    def _lost_client(self) -> None:
        """The client went away (TCP); the pty keeps its endpoint."""
        self._pending.clear()

    def step(self) -> None:
        """One loop turn: print what is due, wait for input or the next deadline, feed it."""
        self._queue(self.dongle.output(world_time(self.clock)))
        if self.dongle.take_unplug():
            self._pending.clear()
            self._unplug()
            self.replugs += 1
            return
        self._flush()
        fds = self._read_fds()
        wfd = self._write_fd()
        wait_w = [wfd] if wfd is not None and self._pending else []
        readable, _, _ = select.select(fds, wait_w, [], self._timeout())
        for fd in readable:
            self._on_readable(fd)

    def serve_forever(self) -> None:
        """Run until :meth:`stop` (from another thread or a signal handler)."""
        while not self._stop.is_set():
            self.step()

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to end (safe from a signal handler); :meth:`stop` also waits for it."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.close()


class PtyServer(_Server):
    """The dongle on a raw-mode pseudo-terminal; clients open :attr:`path`."""

    def __init__(self, dongle: DongleSim, clock: Clock | None = None, link: str | None = None) -> None:
        super().__init__(dongle, clock)
        self.link = link
        self._master = -1
        self._slave = -1
        self._open()

    def _open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.device = os.ttyname(slave)
        if self.link:
            tmp = f"{self.link}.{os.getpid()}.tmp"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(self.device, tmp)
            os.replace(tmp, self.link)

    @property
    def path(self) -> str:
        """What a client opens: the stable link if one was asked for, else the pty device."""
        return self.link or self.device

    def _read_fds(self) -> list[int]:
        return [self._master]

    def _write_fd(self) -> int | None:
        return self._master

    def _write(self, data: bytearray) -> int:
        return os.write(self._master, data)

    def _on_readable(self, fd: int) -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EIO:
                return
            raise
        if data:
            self.dongle.receive(data, world_time(self.clock))

    def _close_fds(self) -> None:
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def _unplug(self) -> None:
        old = (self._master, self._slave)
        self._open()  # before closing the old one, so the new pty gets a different name
        for fd in old:
            os.close(fd)

    def close(self) -> None:
        self._close_fds()
        if self.link and os.path.islink(self.link):
            os.unlink(self.link)


class TcpServer(_Server):
    """The dongle on a TCP port, one client at a time (``socket://HOST:PORT`` for pyserial)."""

    def __init__(
        self,
        dongle: DongleSim,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(dongle, clock)
        self._listener = socket.create_server((host, port))
        self._listener.setblocking(False)
        self.host, self.port = self._listener.getsockname()[:2]
        self._conn: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def _read_fds(self) -> list[int]:
        return [self._conn.fileno() if self._conn is not None else self._listener.fileno()]

    def _write_fd(self) -> int | None:
        return self._conn.fileno() if self._conn is not None else None

    def _write(self, data: bytearray) -> int:
        if self._conn is None:
            return len(data)
        return self._conn.send(data)

    def _on_readable(self, fd: int) -> None:
        if self._conn is None:
            try:
                conn, _ = self._listener.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            self._conn = conn
            return
        try:
            data = self._conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.dongle.receive(data, world_time(self.clock))
        else:
            self._lost_client()

    def _lost_client(self) -> None:
        super()._lost_client()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _unplug(self) -> None:
        self._lost_client()

    def close(self) -> None:
        self._lost_client()
        self._listener.close()
