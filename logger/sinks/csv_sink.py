"""Daily long-format CSV files: ``timestamp,unitid,epc,dataid,value``, one property per row.

* One file per local day in the meter's timezone (``filename`` is a strftime pattern);
  every row goes to the file of its own date (a backfilled 23:30 row of yesterday goes
  to yesterday's file).
* Rows are written whole with one ``os.write`` per batch; if a write fails part-way the
  file is truncated back to its last complete row (if even that fails, the file is closed
  and cut back to that size when it is reopened, before the queued rows are retried). A file found ending in a partial line
  (a crash) is truncated back to its last newline when opened (logged with the byte count).
* Meter-timestamped readings (EA, EB, E2, E4, EC, EE, D0: backfill may fetch them twice)
  are written once per file: their keys are kept per open file (read back when a file
  is opened). Keys of live readings (E7, E8, ...) are never kept, so memory stays bounded.
* Files are created 0640, directories (the CSV directory and any parent it creates) 0750,
  whatever the umask.
* When the directory cannot be written (disk full, read-only, permissions) the error is
  logged once and rows wait in memory, at most :data:`PENDING_LIMIT` (about four days
  at the default schedule; the oldest are dropped with a loud count beyond that), and are
  written in order as soon as writing works again (on the next ``write`` or ``flush``).
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import datetime, tzinfo
from pathlib import Path

from logger.readings import CSV_HEADER, Reading
from logger.state import make_dirs

log = logging.getLogger(__name__)

#: EPCs whose readings carry the meter's own timestamp and may be fetched twice.
METER_TIMESTAMPED = frozenset({"EA", "EB", "E2", "E4", "EC", "EE", "D0"})
#: Rows kept in memory while the directory cannot be written.
PENDING_LIMIT = 50_000
#: Files kept open at once (today, yesterday, and one backfill day).
MAX_OPEN = 3
FILE_MODE = 0o640
DIR_MODE = 0o750


class _Writer:
    """Turns rows into CSV bytes exactly as the csv module writes them."""

    def __init__(self) -> None:
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\n")

    def encode(self, rows: Iterable[tuple[str, ...]]) -> bytes:
        self._buf.seek(0)
        self._buf.truncate()
        self._csv.writerows(rows)
        return self._buf.getvalue().encode("utf-8")


class _OpenFile:
    def __init__(self, path: Path, good_size: int | None = None) -> None:
        self.path = path
        #: set when a failed write could not be undone: the file must be reopened (and cut back)
        self.broken = False
        existed = path.exists()
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, FILE_MODE)
        try:
            if not existed:
                os.fchmod(self.fd, FILE_MODE)
            if good_size is not None and os.fstat(self.fd).st_size > good_size:
                # rows of a failed batch that got out before the error: they are still queued
                os.ftruncate(self.fd, good_size)
                log.warning("%s: removed the part of a failed write that could not be undone before", path)
            self.size = _repair(self.fd, path)
            self.keys = _read_keys(path) if self.size else set()
        except BaseException:
            os.close(self.fd)
            raise

    def append(self, data: bytes) -> None:
        """Write ``data`` completely or leave the file as it was (then raise)."""
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        except OSError:
            try:
                os.ftruncate(self.fd, self.size)
            except OSError:
                self.broken = True
                log.error("could not truncate %s back to %d bytes after a failed write; retrying on reopen",
                          self.path, self.size)
            raise
        self.size += len(data)

    def close(self) -> None:
        os.close(self.fd)


def _repair(fd: int, path: Path) -> int:
    """Truncate a trailing partial line; return the (new) size."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    good = 0
    while end > 0:
        start = max(0, end - 4096)
        chunk = os.pread(fd, end - start, start)
        idx = chunk.rfind(b"\n")
        if idx >= 0:
            good = start + idx + 1
            break
        end = start
    os.ftruncate(fd, good)
    log.warning("%s ended in a partial line (crash?): dropped %d bytes", path, size - good)
    return good


def _read_keys(path: Path) -> set[tuple[str, str, str, str]]:
    keys: set[tuple[str, str, str, str]] = set()
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        for row in csv.reader(fh):
            if len(row) == 5 and row[2] in METER_TIMESTAMPED:
                keys.add((row[0], row[1], row[2], row[3]))
    return keys


class CsvSink:
    def __init__(self, directory: str | os.PathLike[str], filename_pattern: str, tz: tzinfo) -> None:
        self.directory = Path(directory)
        self.pattern = filename_pattern
        self.tz = tz
        self._files: OrderedDict[Path, _OpenFile] = OrderedDict()
        self._pending: deque[Reading] = deque()
        self._dropped = 0
        self._failing = False
        #: files whose failed write could not be undone -> their last good size
        self._cut_back: dict[Path, int] = {}
        self._writer = _Writer()

    @property
    def pending(self) -> int:
        """Rows waiting in memory because the directory could not be written."""
        return len(self._pending)

    def write(self, readings: Iterable[Reading]) -> None:
        self._pending.extend(readings)
        over = len(self._pending) - PENDING_LIMIT
        if over > 0:
            for _ in range(over):
                self._pending.popleft()
            self._dropped += over
            log.error("CSV: %d rows dropped so far (the in-memory queue holds %d rows while %s is not writable)",
                      self._dropped, PENDING_LIMIT, self.directory)
        self._drain()

    def flush(self) -> None:
        """Retry rows waiting in memory, then fsync the open files."""
        self._drain()
        for f in self._files.values():
            try:
                os.fsync(f.fd)
            except OSError as exc:
                log.warning("CSV: fsync of %s failed: %s", f.path, exc)

    def close(self, timeout_s: float = 0.0) -> None:
        """The runner's stop (:class:`logger.runner.Sink`): write what waits, fsync, close the files.

        ``timeout_s`` is not needed here (local writes wait on nothing); rows that still cannot
        be written are reported in one line."""
        self.flush()
        for f in self._files.values():
            f.close()
        self._files.clear()
        if self._pending:
            log.error("CSV: %d rows could not be written to %s before closing", len(self._pending), self.directory)

    # ------------------------------------------------------------------ internals

    def _path_for(self, local: datetime) -> Path:
        return self.directory / local.strftime(self.pattern)

    def _drain(self) -> None:
        while self._pending:
            # Take the run of consecutive rows that go to the same file.
            first = self._pending[0]
            local = first.timestamp.astimezone(self.tz)
            path = self._path_for(local)
            batch: list[Reading] = []
            rows: list[tuple[str, ...]] = []
            try:
                f = self._open(path)
            except OSError as exc:
                self._fail(exc)
                return
            new_keys = []
            for reading in self._pending:
                ts = reading.timestamp.astimezone(self.tz)
                if self._path_for(ts) != path:
                    break
                batch.append(reading)
                row = Reading(ts, reading.unitid, reading.epc, reading.dataid, reading.value).csv_row()
                if reading.epc in METER_TIMESTAMPED:
                    key = row[:4]
                    if key in f.keys or key in new_keys:
                        continue
                    new_keys.append(key)
                rows.append(row)
                if len(batch) >= 5000:
                    break
            data = b""
            if f.size == 0:
                data = self._writer.encode([CSV_HEADER])
            data += self._writer.encode(rows)
            try:
                if rows or f.size == 0:
                    f.append(data)
            except OSError as exc:
                if f.broken:
                    self._cut_back[path] = f.size
                    self._files.pop(path, None)
                    f.close()
                self._fail(exc)
                return
            f.keys.update(new_keys)
            for _ in batch:
                self._pending.popleft()
            if self._failing:
                self._failing = False
                log.warning("CSV: writing to %s works again; %d rows waiting", self.directory, len(self._pending))

    def _fail(self, exc: OSError) -> None:
        if not self._failing:
            self._failing = True
            log.error("CSV: cannot write to %s: %s; keeping up to %d rows in memory until it works again "
                      "(check free space and permissions)", self.directory, exc.strerror or exc, PENDING_LIMIT)

    def _open(self, path: Path) -> _OpenFile:
        f = self._files.get(path)
        if f is not None:
            if os.fstat(f.fd).st_nlink > 0:
                self._files.move_to_end(path)
                return f
            # the file (or its directory) was removed under us: writing on would lose the rows
            log.error("CSV: %s was removed while open; starting it again", path)
            del self._files[path]
            f.close()
        if not self.directory.is_dir():
            make_dirs(self.directory, DIR_MODE)
        f = _OpenFile(path, self._cut_back.get(path))
        self._cut_back.pop(path, None)
        self._files[path] = f
        while len(self._files) > MAX_OPEN:
            _, old = self._files.popitem(last=False)
            old.close()
        return f
