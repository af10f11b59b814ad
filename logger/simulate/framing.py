"""Host input of the simulated dongle: bytes from the serial line cut into commands.

* A command ends with CR, LF or CRLF (the ROHM product commands WOPT/ROPT/WUART/RUART end
  with CR alone; a LF right after a CR is skipped).
* ``SKSENDTO`` is followed by exactly DATALEN raw bytes after the DATALEN token and one
  space, with no line end; those bytes may contain CR/LF. A header whose DATALEN is not 4
  hex digits is answered at once (``FAIL ER06``) and its data is read as ordinary input.
  A ``SKSENDTO`` line that ends before its DATALEN field is an ordinary (short) command.
* A line longer than :data:`~logger.simulate.wire.MAX_LINE` bytes without an end is
  discarded and answered ``FAIL ER09``.

:meth:`HostInput.next_unit` returns one unit at a time, so the dongle can act on a command
(SFE, SKRESET...) before the next one is cut.
"""

from __future__ import annotations

from dataclasses import dataclass

from logger.simulate.wire import HEX, MAX_LINE


@dataclass(frozen=True)
class CommandLine:
    """One command line without its line end (may be blank)."""

    raw: bytes


@dataclass(frozen=True)
class SendTo:
    """A ``SKSENDTO`` header (ending in the space after DATALEN) and its DATALEN data bytes."""

    header: bytes
    payload: bytes


@dataclass(frozen=True)
class BadSendTo:
    """A ``SKSENDTO`` header whose DATALEN is not 4 hex digits."""

    header: bytes


@dataclass(frozen=True)
class Overflow:
    """More than MAX_LINE bytes without a line end were discarded."""


Unit = CommandLine | SendTo | BadSendTo | Overflow


class HostInput:
    """Cuts host bytes into :data:`Unit` s. ``sendto_args`` = SKSENDTO arguments up to DATALEN (5 SS, 6 DS)."""

    def __init__(self, sendto_args: int) -> None:
        self.sendto_args = sendto_args
        self._buf = bytearray()
        self._skip_lf = False
        self._raw_header: bytes | None = None
        self._raw_needed = 0

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_unit(self) -> Unit | None:
        """The next complete unit, or None until more bytes arrive."""
        buf = self._buf
        if self._raw_header is not None:
            if len(buf) < self._raw_needed:
                return None
            payload = bytes(buf[: self._raw_needed])
            del buf[: self._raw_needed]
            header, self._raw_header = self._raw_header, None
            return SendTo(header, payload)
        if self._skip_lf and buf[:1] == b"\n":
            del buf[:1]
        self._skip_lf = False
        if not buf:
            return None
        ends = [i for i in (buf.find(b"\r"), buf.find(b"\n")) if i >= 0]
        end = min(ends) if ends else -1
        if buf.startswith(b"SKSENDTO "):
            header = self._sendto_header()
            if header is not None:
                return self._start_sendto(header)
        if end < 0:
            if len(buf) > MAX_LINE:
                buf.clear()
                return Overflow()
            return None
        line = bytes(buf[:end])
        self._skip_lf = buf[end] == 0x0D
        del buf[: end + 1]
        return CommandLine(line)

    def _sendto_header(self) -> bytes | None:
        """Cut the header up to the space after DATALEN, if it is complete before any line end."""
        buf = self._buf
        spaces = 0
        for i, byte in enumerate(buf):
            if byte in (0x0D, 0x0A):
                return None
            if byte == 0x20:
                spaces += 1
                if spaces == self.sendto_args + 1:
                    header = bytes(buf[: i + 1])
                    del buf[: i + 1]
                    return header
        return None

    def _start_sendto(self, header: bytes) -> Unit | None:
        length_token = header.decode("ascii", errors="replace").split()[-1]
        if not (len(length_token) == 4 and HEX.match(length_token)):
            return BadSendTo(header)
        self._raw_header = header
        self._raw_needed = int(length_token, 16)
        return self.next_unit()  # None until the data bytes are all there
