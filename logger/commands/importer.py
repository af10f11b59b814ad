"""``smartmeter-logger import CSV...``: write daily CSV files to InfluxDB.

Reads the CSV sink's format (``timestamp,unitid,epc,dataid,value``; a missing header is
fine), validates every row (a bad row is reported as ``file:line: reason``, skipped and
counted), and writes line protocol built directly from the text. Points are exactly those
the live InfluxDB sink writes (same :mod:`logger.sinks.points` functions), so re-running an
import, or importing days the logger already delivered, overwrites instead of duplicating.

How it is fast (``docs/benchmarks.md``, figure 5): the main thread reads and converts; rows
are split with ``str.split`` (the logger never writes a field that needs CSV quoting; a line
containing a quote goes through the :mod:`csv` module); bodies of ``--batch-size`` lines go
to ``--connections`` writer threads, each with its own persistent HTTP connection
(:mod:`http.client`, no influxdb-client), so parsing and InfluxDB's ingest overlap.

Failures: HTTP 5xx, 429 and connection errors are retried with a doubling delay (1 s to
16 s, ``Retry-After`` honoured). Anything else (bad token, missing bucket, rejected points)
or retries running out stops the import: it names the ``file:line`` ranges that were not
(or not certainly) written; re-running the import for those files fixes it (it is
idempotent). A batch is never dropped silently.

Exit codes: 0 done (even with skipped rows), 1 InfluxDB failed or a file could not be
read, 2 configuration/usage error.
"""

from __future__ import annotations

import argparse
import csv
import math
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from logger.config import ConfigError, load_settings
from logger.readings import CSV_HEADER, parse_timestamp
from logger.sinks.points import epoch_ms, tag_set

MAX_REPORTED_BAD_ROWS = 50
PROGRESS_EVERY_S = 5.0
#: Retries of a batch after a transient failure (delays 1, 2, 4, 8, 16 s).
TRANSIENT_RETRIES = 5
DEFAULT_BATCH = 50_000
DEFAULT_CONNECTIONS = 2
HTTP_TIMEOUT_S = 120.0
_READ_BLOCK = 1 << 22
_HEADER_TEXT = ",".join(CSV_HEADER)
_CACHE_LIMIT = 100_000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="CSV", help="daily CSV files written by the logger")
    parser.add_argument("--config", help="settings.yml (default: config/settings.yml when present)")
    parser.add_argument("--url", help="InfluxDB URL (default: influxdb.url / INFLUXDB_URL)")
    parser.add_argument("--token", help="API token with write permission (default: INFLUXDB_TOKEN; prefer the env)")
    parser.add_argument("--org", help="organisation (default: influxdb.org / INFLUXDB_ORG)")
    parser.add_argument("--bucket", help="bucket (default: influxdb.bucket / INFLUXDB_BUCKET)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH,
                        help=f"points per write request (default {DEFAULT_BATCH})")
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS,
                        help=f"parallel write requests, one HTTP connection each (default {DEFAULT_CONNECTIONS})")
    parser.add_argument("--gzip", action="store_true",
                        help="compress request bodies (helps over a slow network; costs CPU on both ends)")
    parser.add_argument("--dry-run", action="store_true", help="read and validate only; write nothing")


class RowConverter:
    """CSV row -> line protocol, with small caches (timestamps, tag sets and values repeat)."""

    def __init__(self) -> None:
        self._tags: dict[tuple[str, str, str], str] = {}
        self._values: dict[str, str] = {}
        self._last_ts = ""
        self._last_ms = ""

    def text(self, text: str) -> str:
        """The line for one CSV line (no line break); raises ValueError with a reason for a bad row."""
        if '"' in text:  # quoted fields: never written by the logger, but valid CSV
            return self.line(next(csv.reader([text]), []))
        return self.line(text.split(","))

    def convert(self, texts: list[str], out: list[str], first_lineno: int) -> list[tuple[int, str]]:
        """Append the lines for CSV lines ``texts`` to ``out``; (line number, reason) of each bad row.

        The same result as :meth:`text` for each line (empty lines are skipped), in one loop: the
        common row (known tags and value, no quote) costs a split, two lookups and, when the
        timestamp changes, one ``fromisoformat``.
        """
        tags_get, values_get, append = self._tags.get, self._values.get, out.append
        last_ts, last_ms = self._last_ts, self._last_ms
        bad: list[tuple[int, str]] = []
        lineno = first_lineno - 1
        for text in texts:
            lineno += 1
            if not text:
                continue
            row = text.split(",")
            if len(row) == 5 and '"' not in text:
                ts, unitid, epc, dataid, value = row
                tags = tags_get((unitid, epc, dataid))
                number = values_get(value)
                if tags is not None and number is not None:
                    if ts == last_ts:
                        append(tags + number + last_ms)
                        continue
                    try:
                        when = datetime.fromisoformat(ts)
                    except ValueError:
                        when = None
                    if when is not None and when.tzinfo is not None:
                        last_ts, last_ms = ts, " " + str(epoch_ms(when))
                        append(tags + number + last_ms)
                        continue
            self._last_ts, self._last_ms = last_ts, last_ms  # anything else: the one-row way
            try:
                append(self.text(text))
            except ValueError as exc:
                bad.append((lineno, str(exc)))
            last_ts, last_ms = self._last_ts, self._last_ms
        self._last_ts, self._last_ms = last_ts, last_ms
        return bad

    def line(self, row: list[str]) -> str:
        """The line for ``row``; raises ValueError with a reason for a bad row."""
        if len(row) != 5:
            raise ValueError(f"expected 5 columns, got {len(row)}")
        ts, unitid, epc, dataid, value = row
        key = (unitid, epc, dataid)
        tags = self._tags.get(key)
        if tags is None:
            if not unitid or not epc:
                raise ValueError("unitid and epc must not be empty")
            tags = tag_set(unitid, epc, dataid) + " value="
            if len(self._tags) < _CACHE_LIMIT:
                self._tags[key] = tags
        if ts != self._last_ts:
            self._last_ms = " " + str(_parse_ms(ts))
            self._last_ts = ts
        number = self._values.get(value)
        if number is None:
            try:
                parsed = float(value)
            except ValueError:
                raise ValueError(f"bad value {value[:40]!r}") from None
            if not math.isfinite(parsed):
                raise ValueError(f"value {value[:40]!r} is not a finite number")
            number = repr(parsed)  # = points.float_text
            if len(self._values) < _CACHE_LIMIT:
                self._values[value] = number
        return tags + number + self._last_ms


def _parse_ms(ts: str) -> int:
    return epoch_ms(parse_timestamp(ts))


class Progress:
    """A one-line progress bar on a TTY, else a line every few seconds."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._clock = clock
        self._start = clock()
        self._last = self._start

    def update(self, name: str, rows: int, force: bool = False) -> None:
        now = self._clock()
        every = 0.2 if self._tty else PROGRESS_EVERY_S
        if not force and now - self._last < every:
            return
        self._last = now
        rate = rows / max(now - self._start, 1e-9)
        text = f"import: {name}: {rows} rows ({rate:,.0f} rows/s)"
        if self._tty:
            self._stream.write("\r" + text[:120].ljust(80))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def done(self) -> None:
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


# ---------------------------------------------------------------------- writing


#: (file index, first line, last line) of the rows in a request body.
Span = tuple[int, int, int]
_END = sys.maxsize  # "to the end of the file" as a last line


@dataclass
class _Body:
    data: bytes
    rows: int
    spans: list[Span] = field(default_factory=list)


class WriteFailed(Exception):
    """The import stopped: ``str()`` says why; ``unwritten`` the spans not (certainly) written."""

    def __init__(self, message: str, unwritten: list[Span]) -> None:
        super().__init__(message)
        self.unwritten = unwritten


class HttpWriter:
    """POST /api/v2/write from ``connections`` threads, each with one persistent HTTP connection.

    :meth:`submit` blocks while all threads are busy and a few bodies wait (bounded memory),
    and raises :class:`WriteFailed` once a batch failed for good; :meth:`finish` waits for
    everything submitted.
    """

    def __init__(self, url: str, token: str, org: str, bucket: str, *, connections: int = DEFAULT_CONNECTIONS,
                 gzip: bool = False, log: TextIO = sys.stderr, sleep: Callable[[float], object] | None = None) -> None:
        import http.client
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"InfluxDB URL {url!r} must look like http://host:8086")
        self._conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._host, self._port = parts.hostname, parts.port
        query = urllib.parse.urlencode({"org": org, "bucket": bucket, "precision": "ms"})
        self._path = f"{parts.path.rstrip('/')}/api/v2/write?{query}"
        self._url, self._org, self._bucket = url, org, bucket
        self._headers = {"Authorization": f"Token {token}", "Content-Type": "text/plain; charset=utf-8",
                         "Accept": "application/json"}
        if gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._gzip = gzip
        self._log = log
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._queue: queue.Queue[_Body | None] = queue.Queue(maxsize=connections)
        self._lock = threading.Lock()
        self._error: str | None = None
        self._unwritten: list[Span] = []
        self.written = 0
        self._threads = [threading.Thread(target=self._work, name=f"import-writer-{i}", daemon=True)
                         for i in range(max(1, connections))]
        for t in self._threads:
            t.start()

    def submit(self, body: _Body) -> None:
        while True:
            self._raise_if_failed()
            try:
                self._queue.put(body, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Wait until every submitted body is written; raise :class:`WriteFailed` if one was not."""
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join()
        self._raise_if_failed()

    def abort(self) -> list[Span]:
        """Stop the threads (queued bodies are not sent); the spans not written."""
        self._stop.set()
        while True:
            try:
                body = self._queue.get_nowait()
            except queue.Empty:
                break
            if body is not None:
                self._unwritten.extend(body.spans)
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        for t in self._threads:
            t.join(timeout=HTTP_TIMEOUT_S)
        return sorted(self._unwritten)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise WriteFailed(self._error, self.abort())

    # ------------------------------------------------------------------ threads

    def _work(self) -> None:
        conn = None
        try:
            while True:
                body = self._queue.get()
                if body is None:
                    return
                if self._error is not None or self._stop.is_set():
                    with self._lock:
                        self._unwritten.extend(body.spans)
                    continue
                data = body.data
                if self._gzip:
                    import gzip

                    data = gzip.compress(data, compresslevel=1)
                try:
                    conn = self._post(conn, data)
                except WriteFailed as exc:
                    with self._lock:
                        self._unwritten.extend(body.spans)
                        if self._error is None:
                            self._error = str(exc)
                    self._stop.set()
                    continue
                with self._lock:
                    self.written += body.rows
        finally:
            if conn is not None:
                conn.close()

    def _post(self, conn: Any, data: bytes) -> Any:  # conn: http.client.HTTPConnection or None
        """Send one body (with retries); the connection to reuse. Raises WriteFailed."""
        import http.client

        from logger.sinks.influx_sink import _json_message, classify_status

        delay = 1.0
        for attempt in range(TRANSIENT_RETRIES + 1):
            retry_after = None
            fresh = conn is None
            if conn is None:
                conn = self._conn_class(self._host, self._port, timeout=HTTP_TIMEOUT_S)
            try:
                conn.request("POST", self._path, body=data, headers=self._headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
                if 200 <= status < 300:
                    if response.will_close:
                        conn.close()
                        conn = None
                    return conn
                retry_after = response.getheader("Retry-After")
                detail = _json_message(payload[:2000].decode("utf-8", "replace"))
                kind, message = classify_status(status, detail, self._org, self._bucket)
                if status == 413:
                    message += "; use a smaller --batch-size"
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = None
                if not fresh and attempt == 0 and isinstance(exc, (http.client.RemoteDisconnected,
                                                                    ConnectionResetError, BrokenPipeError)):
                    continue  # the server closed an idle keep-alive connection: reconnect once, no delay
                kind, message = "transient", f"InfluxDB at {self._url} is unreachable ({type(exc).__name__}: {exc})"
            if kind != "transient" or attempt == TRANSIENT_RETRIES or self._stop.is_set():
                if kind == "transient" and attempt == TRANSIENT_RETRIES:
                    message += f" (gave up after {TRANSIENT_RETRIES} retries)"
                raise WriteFailed(message, [])
            wait = delay
            try:
                wait = max(delay, min(float(retry_after), 300.0)) if retry_after else delay
            except ValueError:
                pass
            print(f"import: {message}; retrying in {wait:.0f} s", file=self._log, flush=True)
            self._sleep(wait)
            if self._stop.is_set():  # another batch failed for good meanwhile: stop too
                raise WriteFailed(message, [])
            delay *= 2
        raise WriteFailed("unreachable", [])  # not reached


def describe_spans(spans: list[Span], names: list[str], lengths: dict[int, int] | None = None) -> list[str]:
    """``a.csv:5001-12265`` (or ``a.csv (whole file)``) for each file's merged spans, in file order.

    A last line of :data:`_END` means "to the end of the file"; ``lengths`` (lines per file, for the
    files read to the end) lets a span that covers a whole file say so.
    """
    lengths = lengths or {}
    merged: dict[int, list[list[int]]] = {}
    for idx, first, last in sorted(spans):
        runs = merged.setdefault(idx, [])
        if runs and first <= runs[-1][1] + 1:
            runs[-1][1] = max(runs[-1][1], last)
        else:
            runs.append([first, last])
    out = []
    for idx in sorted(merged):
        for first, last in merged[idx]:
            if last >= lengths.get(idx, _END):
                last = _END
            if first <= 1 and last == _END:
                out.append(f"{names[idx]} (whole file)")
            else:
                out.append(f"{names[idx]}:{first}-{'end' if last == _END else last}")
    return out


# ---------------------------------------------------------------------- the command


def main(args: argparse.Namespace) -> int:
    err = sys.stderr
    if args.batch_size < 1:
        print("import: --batch-size must be at least 1", file=err)
        return 2
    if args.connections < 1:
        print("import: --connections must be at least 1", file=err)
        return 2
    try:
        settings = load_settings(args.config, check_dirs=False)
    except ConfigError as exc:
        print(exc, file=err)
        return 2
    influx = settings.influxdb
    url = args.url or influx.url
    token = args.token or (influx.token.reveal() if influx.token else None)
    org = args.org or influx.org
    bucket = args.bucket or influx.bucket
    writer: HttpWriter | None = None
    if not args.dry_run:
        for name, value, env in (("--url", url, "INFLUXDB_URL"), ("--token", token, "INFLUXDB_TOKEN"),
                                 ("--org", org, "INFLUXDB_ORG"), ("--bucket", bucket, "INFLUXDB_BUCKET")):
            if not value:
                print(f"import: no InfluxDB {name[2:]}; pass {name} or set {env} in .env", file=err)
                return 2
        assert url and token and org and bucket
        try:
            writer = HttpWriter(url, token, org, bucket, connections=args.connections, gzip=args.gzip, log=err)
        except ValueError as exc:
            print(f"import: {exc}", file=err)
            return 2

    files: list[str] = list(args.files)
    for name in files:  # every file readable before anything is written
        try:
            open(name, "rb").close()
        except OSError as exc:
            print(f"import: cannot read {name}: {exc.strerror}", file=err)
            if writer is not None:
                writer.abort()
            return 1
    progress = Progress(err)
    converter = RowConverter()
    batch_size = args.batch_size
    total = bad = 0
    started = time.monotonic()
    batch: list[str] = []
    spans: list[Span] = []  # rows of the batch from files already finished
    lengths: dict[int, int] = {}  # lines of each file read to the end
    idx = lineno = 0
    span_start, mark = 1, 0  # this file's first line in the batch, len(batch) then
    reading = True

    def hand_over(last: int) -> None:
        nonlocal batch, spans, span_start, mark
        body_spans = spans + [(idx, span_start, last)]
        lines, batch, spans, span_start, mark = batch, [], [], last + 1, 0
        if writer is not None:
            body = _Body(("\n".join(lines)).encode("utf-8"), len(lines), body_spans)
            try:
                writer.submit(body)
            except WriteFailed as exc:
                exc.unwritten.extend(body.spans)
                raise

    try:
        for idx, name in enumerate(files):
            with open(name, newline="", encoding="utf-8") as fh:
                lineno, span_start, mark = 0, 1, len(batch)  # lineno: lines of the file before `lines`
                rest = ""
                while True:
                    new = fh.read(_READ_BLOCK)
                    if not new and not rest:
                        break
                    block = rest + new
                    lines = block.split("\n")
                    rest = lines.pop() if new else ""  # a partial line waits for the next block
                    if "\r" in block:
                        lines = [t.removesuffix("\r") for t in lines]
                    pos = 1 if lineno == 0 and lines and lines[0] == _HEADER_TEXT else 0
                    while pos < len(lines):
                        chunk = lines[pos:pos + batch_size - len(batch)]
                        before = len(batch)
                        for at, reason in converter.convert(chunk, batch, lineno + pos + 1):
                            bad += 1
                            if bad <= MAX_REPORTED_BAD_ROWS:
                                print(f"{name}:{at}: {reason}; row skipped", file=err)
                        total += len(batch) - before
                        pos += len(chunk)
                        if len(batch) >= batch_size:
                            hand_over(lineno + pos)
                            progress.update(name, total)
                    lineno += len(lines)
            if len(batch) > mark:
                spans.append((idx, span_start, lineno))
            lengths[idx] = lineno
            progress.update(name, total, force=True)
        reading = False
        if writer is not None:
            if batch:
                body = _Body(("\n".join(batch)).encode("utf-8"), len(batch), spans)
                batch, spans = [], []
                try:
                    writer.submit(body)
                except WriteFailed as exc:
                    exc.unwritten.extend(body.spans)
                    raise
            writer.finish()
    except WriteFailed as exc:
        progress.done()
        unwritten = exc.unwritten + spans
        if reading:
            unwritten += [(idx, span_start, _END)] + [(i, 1, _END) for i in range(idx + 1, len(files))]
        ranges = describe_spans(unwritten, files, lengths)
        print(f"import: {exc}", file=err)
        print("import: stopped; not written (or not certainly): " + ", ".join(ranges[:20])
              + (f" and {len(ranges) - 20} more ranges" if len(ranges) > 20 else ""), file=err)
        print("import: fix the cause and run the import again for those files (points already written are "
              "overwritten, not duplicated)", file=err)
        return 1
    except (UnicodeDecodeError, OSError) as exc:
        progress.done()
        if writer is not None:
            writer.abort()
        reason = f"not UTF-8 text ({exc.reason})" if isinstance(exc, UnicodeDecodeError) else \
            f"cannot read: {exc.strerror or exc}"
        print(f"import: {files[idx]}: {reason}; stopped, not all of the rows before were written: run the "
              "import again once the file is fixed (points already written are overwritten, not duplicated)",
              file=err)
        return 1
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    progress.done()
    if bad > MAX_REPORTED_BAD_ROWS:
        print(f"import: ... {bad - MAX_REPORTED_BAD_ROWS} more bad rows not shown", file=err)
    elapsed = time.monotonic() - started
    verb = "validated (dry run)" if args.dry_run else "imported"
    print(f"import: {verb} {total} rows from {len(files)} files, {bad} bad rows skipped, in {elapsed:.1f} s",
          file=err)
    return 0
