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

Rows become lines in :mod:`logger.import_rows`; :mod:`logger.import_writer` sends them.

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
import sys
import time
from collections.abc import Callable

from logger.config import ConfigError, load_settings
from logger.import_rows import RowConverter
from logger.import_writer import (
    DEFAULT_CONNECTIONS,
    END,
    Body,
    HttpWriter,
    Span,
    WriteFailed,
    describe_spans,
)
from logger.readings import CSV_HEADER
from logger.typehints import TextIO

__all__ = ["END", "HttpWriter", "Progress", "RowConverter", "Span", "WriteFailed", "configure", "describe_spans",
           "main"]

MAX_REPORTED_BAD_ROWS = 50
PROGRESS_EVERY_S = 5.0
DEFAULT_BATCH = 50_000
_READ_BLOCK = 1 << 22
_HEADER_TEXT = ",".join(CSV_HEADER)
#: the old private name (tests import it)
_END = END


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


class Progress:
    """A one-line progress bar on a TTY, else a line every few seconds."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._clock = clock
        self._start = clock()
        self._last = self._start

    def update(self, name: str, rows: int, force: bool = False, file_no: int = 0, files: int = 0) -> None:
        """``rows``: read so far over all files (a running total, said so); ``name``: the file being read."""
        now = self._clock()
        every = 0.2 if self._tty else PROGRESS_EVERY_S
        if not force and now - self._last < every:
            return
        self._last = now
        rate = rows / max(now - self._start, 1e-9)
        where = f"file {file_no}/{files} {name}" if files else name
        text = f"import: {where}: {rows} rows read so far in all files ({rate:,.0f} rows/s)"
        if self._tty:
            self._stream.write("\r" + text[:120].ljust(80))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def done(self) -> None:
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


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
            body = Body(("\n".join(lines)).encode("utf-8"), len(lines), body_spans)
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
                            progress.update(name, total, file_no=idx + 1, files=len(files))
                    lineno += len(lines)
            if len(batch) > mark:
                spans.append((idx, span_start, lineno))
            lengths[idx] = lineno
            progress.update(name, total, force=True, file_no=idx + 1, files=len(files))
        reading = False
        if writer is not None:
            if batch:
                body = Body(("\n".join(batch)).encode("utf-8"), len(batch), spans)
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
            unwritten += [(idx, span_start, END)] + [(i, 1, END) for i in range(idx + 1, len(files))]
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
