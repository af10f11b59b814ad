"""Durable on-disk queue of line-protocol points InfluxDB has not accepted yet.

Layout of the spool directory:

* ``<n>.lp`` - append-only segment files (``n`` = 12-digit sequence number), one
  point per line, fsync'd after every append. A new segment starts when the current
  one passes ``segment_bytes``.
* ``committed`` - ``"<segment> <offset>\\n"``: everything before that position has been
  delivered. Replaced atomically (:func:`logger.state.atomic_write`: temporary file, fsync,
  rename, fsync directory).

Files are 0640, the directory (and any parent it creates) 0750, whatever the umask.

Only whole lines are ever handed out; a partial line left by a crash during an append
is cut off when the spool is opened. Points are delivered in the order they were
appended. A crash between a successful send and :meth:`Spool.commit` re-sends that
batch after restart: harmless, because the same series and timestamp overwrite the
point in InfluxDB. Nothing is deleted before it is committed.

Growth while InfluxDB is unreachable is about 30 kB per hour at the default schedule.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from logger.state import atomic_write, make_dirs, refuse

log = logging.getLogger(__name__)

SEGMENT_BYTES = 4 * 1024 * 1024
_COMMITTED = "committed"
_SUFFIX = ".lp"
_RESEND = "re-sending everything spooled (duplicates are harmless)"


@dataclass(frozen=True, slots=True)
class Position:
    """A place in the spool: a segment file and a byte offset in it."""

    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class Batch:
    """Spooled lines to send, and the position to commit once they were accepted."""

    lines: list[str]
    end: Position  # commit this after the lines were accepted


class Spool:
    def __init__(self, directory: str | os.PathLike[str], segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = Path(directory)
        make_dirs(self.directory)
        self._segment_bytes = segment_bytes
        self._remove_leftover_temporaries()
        self._committed = self._read_committed()
        segments = self._segments()
        for seg in segments:
            if seg < self._committed.segment:
                self._unlink(seg)  # fully delivered before a crash; clean up
        segments = [s for s in segments if s >= self._committed.segment]
        self._write_seg = segments[-1] if segments else max(self._committed.segment, 1)
        self._fd = self._open_segment(self._write_seg)
        self._write_size = self._repair()
        self._pending_bytes = sum(self._size(s) for s in segments if s != self._write_seg) + self._write_size
        self._pending_bytes -= self._committed.offset if self._committed.segment in segments else 0

    # ------------------------------------------------------------------ API

    @property
    def pending_bytes(self) -> int:
        """Bytes of line protocol not committed yet (0 = empty)."""
        return self._pending_bytes

    def append(self, lines: list[str]) -> None:
        """Append whole lines durably (written and fsync'd before returning)."""
        if not lines:
            return
        for line in lines:
            if "\n" in line:
                raise ValueError("a spooled line must not contain a newline")
        data = ("\n".join(lines) + "\n").encode("utf-8")
        if self._write_size and self._write_size + len(data) > self._segment_bytes:
            self._rotate()
        start = self._write_size
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            os.fsync(self._fd)
        except OSError:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                pass
            raise
        self._write_size += len(data)
        self._pending_bytes += len(data)

    def peek(self, max_lines: int) -> Batch:
        """Up to ``max_lines`` oldest uncommitted lines (in order) and the position to commit."""
        pos = self._committed
        lines: list[str] = []
        while len(lines) < max_lines:
            size = self._write_size if pos.segment == self._write_seg else self._size(pos.segment)
            if pos.offset >= size:
                if pos.segment >= self._write_seg:
                    break
                nxt = self._next_segment(pos.segment)
                if nxt is None:
                    break
                pos = Position(nxt, 0)
                continue
            with open(self._path(pos.segment), "rb") as fh:
                fh.seek(pos.offset)
                offset = pos.offset
                for raw in fh:
                    if not raw.endswith(b"\n") or offset + len(raw) > size:
                        break
                    lines.append(raw[:-1].decode("utf-8"))
                    offset += len(raw)
                    if len(lines) >= max_lines:
                        break
            pos = Position(pos.segment, offset)
            if offset < size and len(lines) < max_lines:
                break  # should not happen (partial lines are repaired); be safe
        return Batch(lines, pos)

    def commit(self, end: Position) -> None:
        """Mark everything before ``end`` delivered (atomically), then delete finished segments."""
        if (end.segment, end.offset) <= (self._committed.segment, self._committed.offset):
            return
        delivered = self._distance(self._committed, end)
        atomic_write(self.directory / _COMMITTED, f"{end.segment} {end.offset}\n".encode("ascii"))
        old = self._committed
        self._committed = end
        self._pending_bytes -= delivered
        for seg in self._segments():
            if old.segment <= seg < end.segment:
                self._unlink(seg)
        if end.segment == self._write_seg and end.offset == self._write_size and self._write_size >= self._segment_bytes:
            self._rotate()

    def pending_lines(self) -> int:
        """Points not committed yet (counts the spooled lines: for reports, not for every append)."""
        count = 0
        for seg in self._segments():
            if seg < self._committed.segment:
                continue
            start = self._committed.offset if seg == self._committed.segment else 0
            end = self._write_size if seg == self._write_seg else self._size(seg)
            try:
                with open(self._path(seg), "rb") as fh:
                    fh.seek(start)
                    left = end - start
                    while left > 0:
                        chunk = fh.read(min(left, 1 << 20))
                        if not chunk:
                            break
                        count += chunk.count(b"\n")
                        left -= len(chunk)
            except FileNotFoundError:
                continue
        return count

    def close(self) -> None:
        os.close(self._fd)

    # ------------------------------------------------------------------ internals

    def _path(self, seg: int) -> Path:
        return self.directory / f"{seg:012d}{_SUFFIX}"

    def _open_segment(self, seg: int) -> int:
        path = self._path(seg)
        existed = path.exists()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        if not existed:
            try:
                os.fchmod(fd, 0o640)  # exactly 0640, whatever the umask
            except OSError:
                os.close(fd)
                raise
        return fd

    def _remove_leftover_temporaries(self) -> None:
        """Temporary ``committed`` files of a process killed mid-commit (the old ``committed`` stands)."""
        for p in self.directory.iterdir():
            if p.name.startswith(f".{_COMMITTED}.") and p.name.endswith(".tmp") or p.name == _COMMITTED + ".tmp":
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass

    def _segments(self) -> list[int]:
        out = []
        for p in self.directory.iterdir():
            if p.suffix == _SUFFIX and p.stem.isdigit():
                out.append(int(p.stem))
        return sorted(out)

    def _next_segment(self, seg: int) -> int | None:
        later = [s for s in self._segments() if s > seg]
        return later[0] if later else None

    def _size(self, seg: int) -> int:
        try:
            return self._path(seg).stat().st_size
        except FileNotFoundError:
            return 0

    def _distance(self, a: Position, b: Position) -> int:
        if a.segment == b.segment:
            return b.offset - a.offset
        total = (self._size(a.segment) - a.offset) + b.offset
        total += sum(self._size(s) for s in self._segments() if a.segment < s < b.segment)
        return total

    def _read_committed(self) -> Position:
        path = self.directory / _COMMITTED
        try:
            seg, off = path.read_text(encoding="ascii").split()
            pos = Position(int(seg), int(off))
        except FileNotFoundError:
            return Position(0, 0)
        except (ValueError, OSError) as exc:
            # The file is replaced atomically, so this means outside damage: re-send rather than lose.
            refuse(path, f"is unreadable ({exc})", _RESEND)
            return Position(0, 0)
        problem = self._committed_problem(pos)
        if problem:
            refuse(path, f"makes no sense ({problem})", _RESEND)
            return Position(0, 0)
        return pos

    def _committed_problem(self, pos: Position) -> str:
        """Why ``pos`` (read from ``committed``) cannot be where delivery stopped, or ''."""
        if not (0 <= pos.segment < 10**12 and 0 <= pos.offset):
            return f"position {pos.segment} {pos.offset} is negative or too large"
        segments = self._segments()
        if segments and pos.segment > segments[-1]:
            # it would count every spooled segment as delivered and delete it
            return f"segment {pos.segment} is after the newest spooled segment {segments[-1]}"
        if pos.segment in segments and pos.offset > self._size(pos.segment):
            return f"offset {pos.offset} is past the end of segment {pos.segment} ({self._size(pos.segment)} bytes)"
        return ""

    def _repair(self) -> int:
        size = os.fstat(self._fd).st_size
        if size == 0 or os.pread(self._fd, 1, size - 1) == b"\n":
            return size
        data = os.pread(self._fd, size, 0)
        good = data.rfind(b"\n") + 1
        os.ftruncate(self._fd, good)
        log.warning("spool: %s ended in a partial line (crash during append): dropped %d bytes",
                    self._path(self._write_seg), size - good)
        return good

    def _rotate(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        self._write_seg += 1
        self._fd = self._open_segment(self._write_seg)
        self._write_size = 0
        self._fsync_dir()

    def _unlink(self, seg: int) -> None:
        try:
            self._path(seg).unlink()
        except FileNotFoundError:
            pass

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
