"""``run --transcript FILE``: the dongle dialogue as a file a user can attach to a bug report.

Every line is ``<time> <direction> <payload>``::

    2026-11-22T10:30:00.123+09:00 > SKSETPWD C ********\\r\\n
    2026-11-22T10:30:00.131+09:00 < SKSETPWD C ********\\r\\n
    2026-11-22T10:30:00.135+09:00 < OK\\r\\n
    2026-11-22T10:30:04.020+09:00 # port closed

* time: ISO-8601 with milliseconds and UTC offset, in the meter's time zone (the form of the CSV);
* direction: ``<`` bytes the dongle printed, ``>`` bytes sent to it, ``#`` a note (plain text);
* payload: the bytes, escaped so that any byte survives (binary ERXUDP data too): printable ASCII
  as is, ``\\r``, ``\\n``, ``\\\\`` and ``\\xNN`` for every other byte (and for a space that would
  end the line).

Received bytes are written a line at a time (a line the dongle has not finished waits for its
line end, so a secret split across two reads is still masked whole). Masked: the arguments of
SKSETPWD/SKSETRBID, sent and echoed, and the PairID of EPANDESC (the end of the B-route ID), by
:func:`logger.skstack.events.redact`; the B-route ID and password values wherever else they
would appear. The file is rotated by size: at :data:`MAX_BYTES` FILE becomes FILE.1 (FILE.1
becomes FILE.2 …, :data:`BACKUPS` kept). ``replay`` reads these files back (:func:`read_lines`).

A J11 adapter (binary frames) is transcribed frame by frame, hex-dumped: ``> J11 D0EA83FC…`` for
a request, ``< J11 D0F9EE5D…`` for what the adapter sent (whole frames, header and checksums
included), ``< J11? …`` for bytes between frames. The data of the credentials request (0x0054)
and the Pairing ID of a scan request (0x0051) or of a scan result that carries one (0x4051) are
masked with ``*`` (the frame re-encoded, so it stays a valid frame). The writer switches to
frames once the adapter's unique code D0F9EE5D appears in what it reads.

The wrapper (:class:`TranscriptTransport`) sits at the runner level: ``app`` wraps whatever
transport ``run`` opens; nothing below the runner knows about it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from logger.clock import Clock
from logger.j11.frame import (
    HEADER_LEN,
    MAX_MESSAGE_LENGTH,
    REQUEST_CODE,
    RESPONSE_CODE,
    encode_frame,
)
from logger.readings import format_timestamp, parse_timestamp
from logger.secrets import MASK
from logger.skstack.events import redact
from logger.timeconv import from_posix
from logger.transport import Transport, TransportError

log = logging.getLogger(__name__)

#: Rotate when the file would grow past this many bytes …
MAX_BYTES = 10 * 1024 * 1024
#: … keeping this many older files (FILE.1 newest … FILE.5 oldest): at most 60 MB in all.
BACKUPS = 5
#: A received line longer than this is written without waiting for its end.
MAX_PENDING = 4096

FROM_DONGLE, TO_DONGLE, NOTE = "<", ">", "#"
#: The first line of every file (after the time and ``#``).
HEADER = ("smartmeter-logger transcript: < from the dongle, > to the dongle, # notes; bytes escaped "
          "(\\r \\n \\\\ \\xNN); B-route ID, password and PairID masked")

_ESCAPES = {0x5C: "\\\\", 0x0D: "\\r", 0x0A: "\\n"}
_ESC = [_ESCAPES.get(b, chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}") for b in range(256)]
_UNESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|r|n|\\)")
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)")
_ROW = re.compile(r"(\d{4}-\d\d-\d\dT\S+) ([<>#])(?: (.*))?")
J11_ROW = b"J11 "
_J11_REQUEST, _J11_RESPONSE = REQUEST_CODE.to_bytes(4, "big"), RESPONSE_CODE.to_bytes(4, "big")


def j11_masked(raw: bytes) -> bytes:
    """One whole J11 frame with its secrets (credentials, Pairing IDs) replaced by ``*``, re-encoded."""
    unique, code, data = int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:6], "big"), bytearray(raw[HEADER_LEN:])
    if unique == REQUEST_CODE and code == 0x0054:
        data[:] = b"*" * len(data)
    elif unique == REQUEST_CODE and code == 0x0051 and len(data) >= 14:
        data[6:14] = b"*" * 8
    elif unique == RESPONSE_CODE and code == 0x4051 and len(data) >= 3 and data[0] == 0 and data[2] \
            and len(data) - 3 == data[2] * 19:
        for off in range(3 + 11, len(data), 19):
            data[off:off + 8] = b"*" * 8
    else:
        return raw
    return encode_frame(code, bytes(data), unique)


def j11_frames(buf: bytes) -> tuple[list[bytes], bytes]:
    """Whole adapter frames (and the noise between them, as separate items) in ``buf``; the rest."""
    out: list[bytes] = []
    while True:
        at = buf.find(_J11_RESPONSE)
        if at < 0:
            keep = next((n for n in (3, 2, 1) if buf.endswith(_J11_RESPONSE[:n])), 0)
            if len(buf) > keep:
                out.append(buf[:len(buf) - keep])
            return out, buf[len(buf) - keep:]
        if at:
            out.append(buf[:at])
            buf = buf[at:]
        if len(buf) < HEADER_LEN:
            return out, buf
        length = int.from_bytes(buf[6:8], "big")
        if not 4 <= length <= MAX_MESSAGE_LENGTH:
            out.append(buf[:4])
            buf = buf[4:]
            continue
        if len(buf) < 8 + length:
            return out, buf
        out.append(buf[:8 + length])
        buf = buf[8 + length:]


def escape(data: bytes) -> str:
    """Bytes as one line of printable ASCII (see the module docstring); :func:`unescape` inverts it."""
    text = "".join(_ESC[b] for b in data)
    return text[:-1] + "\\x20" if text.endswith(" ") else text


def unescape(text: str) -> bytes:
    """The bytes :func:`escape` wrote; ``ValueError`` for text it cannot have written."""
    out = bytearray()
    pos = 0
    for m in _UNESCAPE.finditer(text):
        out += _plain(text[pos : m.start()])
        code = m.group(1)
        out.append({"r": 0x0D, "n": 0x0A, "\\": 0x5C}.get(code) or int(code[1:], 16))
        pos = m.end()
    out += _plain(text[pos:])
    return bytes(out)


def _plain(text: str) -> bytes:
    if "\\" in text or not text.isascii() or not text.isprintable():
        raise ValueError("not an escaped transcript payload")
    return text.encode("ascii")


def read_lines(lines: Iterable[bytes]) -> Iterator[tuple[datetime, str, bytes | str] | None]:
    """A transcript's lines → ``(time, direction, payload)``: bytes for ``<``/``>``, text for ``#``;
    ``None`` for a line that is not a transcript line."""
    for raw in lines:
        text = raw.decode("ascii", "replace").rstrip("\r\n")
        if not text:
            continue
        m = _ROW.fullmatch(text)
        try:
            if m is None:
                raise ValueError(text)
            when, direction, payload = parse_timestamp(m.group(1)), m.group(2), m.group(3) or ""
            yield when, direction, payload if direction == NOTE else unescape(payload)
        except ValueError:
            yield None


def is_transcript(first_line: bytes) -> bool:
    """Whether a file starting with ``first_line`` is a transcript (else: plain dongle output)."""
    return next(read_lines([first_line]), None) is not None


class TranscriptWriter:
    """Appends transcript lines to ``path``, masking credentials, rotating by size.

    ``secrets``: the B-route ID and password (masked wherever they appear). Opening the file
    raises ``OSError`` (``run`` says so and exits 2); a later write that fails (disk full) is
    logged once and dropped: the transcript never stops the logger.
    """

    def __init__(self, path: str | Path, tz: ZoneInfo, clock: Clock, secrets: Iterable[str] = (),
                 max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> None:
        if backups < 1:
            raise ValueError("a transcript keeps at least one older file")
        self.path = Path(path)
        self._tz = tz
        self._clock = clock
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self.max_bytes = max_bytes
        self.backups = backups
        self._pending = b""
        self._pending_at = 0.0
        self._failing = False
        self._fd: int | None = None
        self._size = 0
        self._fresh = True
        #: the adapter speaks J11 (binary frames): rows are hex-dumped frames
        self.j11 = False
        self._open()

    def sent(self, data: bytes) -> None:
        now = self._clock.time()
        if data.startswith(_J11_REQUEST):
            self._j11_row(now, TO_DONGLE, data)
            return
        lines, rest = _split(data)
        for line in [*lines, rest]:
            self._row(now, TO_DONGLE, line)

    def received(self, data: bytes) -> None:
        now = self._clock.time()
        if not self.j11 and _J11_RESPONSE in self._pending + data:
            self.j11 = True
        if self.j11:
            frames, self._pending = j11_frames(self._pending + data)
            for item in frames:
                self._j11_row(now, FROM_DONGLE, item)
            self._pending_at = now
            return
        lines, self._pending = _split(self._pending + data)
        for line in lines:
            self._row(now, FROM_DONGLE, line)
        self._pending_at = now
        if len(self._pending) > MAX_PENDING:
            self.end_of_input()

    def end_of_input(self) -> None:
        """Write a received line the dongle did not finish (the port closed, or it is too long)."""
        if self._pending and self.j11:
            self._j11_row(self._pending_at, FROM_DONGLE, self._pending)
            self._pending = b""
        elif self._pending:
            self._row(self._pending_at, FROM_DONGLE, self._pending)
            self._pending = b""

    def note(self, text: str) -> None:
        self._write(f"{self._time(self._clock.time())} {NOTE} {redact(text)}\n")

    def close(self) -> None:
        self.end_of_input()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # ------------------------------------------------------------------ internals

    def _time(self, now: float) -> str:
        return format_timestamp(from_posix(now, self._tz))

    def _row(self, now: float, direction: str, line: bytes) -> None:
        if not line:
            return
        body = line.rstrip(b"\r\n")
        text = redact(body.decode("latin-1"))  # latin-1: every byte is one character, and back
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        self._write(f"{self._time(now)} {direction} {escape(text.encode('latin-1') + line[len(body):])}\n")

    def _j11_row(self, now: float, direction: str, data: bytes) -> None:
        whole = data.startswith((_J11_REQUEST, _J11_RESPONSE)) and len(data) >= HEADER_LEN
        shown = j11_masked(data) if whole else data
        self._write(f"{self._time(now)} {direction} {'J11' if whole else 'J11?'} {shown.hex().upper()}\n")

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        os.fchmod(self._fd, 0o640)  # the meter's readings are private: not world-readable
        self._size = os.fstat(self._fd).st_size
        self._fresh = True  # a line goes in whatever its size: never rotate a file holding none
        if not self._size:
            header = f"{self._time(self._clock.time())} {NOTE} {HEADER}\n".encode("ascii")
            os.write(self._fd, header)
            self._size = len(header)

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        for i in range(self.backups, 0, -1):
            older = self.path if i == 1 else self.path.with_name(f"{self.path.name}.{i - 1}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i}"))
        self._open()

    def _write(self, line: str) -> None:
        data = line.encode("ascii")
        try:
            if self._fd is None:
                self._open()
            elif not self._fresh and self._size + len(data) > self.max_bytes:
                self._rotate()
            assert self._fd is not None
            os.write(self._fd, data)
            self._size += len(data)
            self._fresh = False
        except OSError as exc:
            if not self._failing:
                log.error("transcript %s: cannot write (%s); its lines are lost until it can", self.path, exc)
            self._failing = True
            return
        if self._failing:
            log.info("transcript %s: writing again", self.path)
            self._failing = False


def _split(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines (with their CRLF, CR or LF) and what follows the last line end."""
    lines = _LINE.findall(data)
    end = sum(len(line) for line in lines)
    return lines, data[end:]


class TranscriptTransport:
    """A transport that copies everything through it to a :class:`TranscriptWriter`."""

    def __init__(self, inner: Transport, writer: TranscriptWriter) -> None:
        self._inner = inner
        self._writer = writer

    def write(self, data: bytes) -> None:
        try:
            self._inner.write(data)
        except TransportError as exc:
            self._writer.note(f"write failed: {exc}")
            raise
        self._writer.sent(data)

    def read_until(self, deadline: float) -> bytes:
        try:
            data = self._inner.read_until(deadline)
        except TransportError as exc:
            self._writer.note(f"read failed: {exc}")
            raise
        if data:
            self._writer.received(data)
        return data

    def close(self) -> None:
        self._writer.end_of_input()
        self._writer.note("port closed")
        self._inner.close()


def transcribing(open_transport: Callable[[], Transport], writer: TranscriptWriter) -> Callable[[], Transport]:
    """``open_transport`` whose transports are copied to ``writer`` (the runner's ``open_transport``)."""

    def open_transcribed() -> Transport:
        transport = open_transport()
        writer.note("port opened")
        return TranscriptTransport(transport, writer)

    return open_transcribed
