"""``smartmeter-logger import CSV...``: write daily CSV files to InfluxDB.

Reads the CSV sink's format (``timestamp,unitid,epc,dataid,value``; a missing header is
fine), validates every row (a bad row is reported as ``file:line: reason``, skipped and
counted), and writes line protocol built directly from the text in large batches.
Points are exactly those the live InfluxDB sink writes, so re-running an import, or
importing days the logger already delivered, overwrites instead of duplicating.

Exit codes: 0 done (even with skipped rows), 1 InfluxDB failed or a file could not be
read, 2 configuration/usage error.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from logger.config import ConfigError, load_settings
from logger.readings import CSV_HEADER
from logger.sinks.points import epoch_ms, tag_set

MAX_REPORTED_BAD_ROWS = 50
PROGRESS_EVERY_S = 5.0
TRANSIENT_RETRIES = 5


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="CSV", help="daily CSV files written by the logger")
    parser.add_argument("--config", help="settings.yml (default: config/settings.yml when present)")
    parser.add_argument("--url", help="InfluxDB URL (default: influxdb.url / INFLUXDB_URL)")
    parser.add_argument("--token", help="API token with write permission (default: INFLUXDB_TOKEN; prefer the env)")
    parser.add_argument("--org", help="organisation (default: influxdb.org / INFLUXDB_ORG)")
    parser.add_argument("--bucket", help="bucket (default: influxdb.bucket / INFLUXDB_BUCKET)")
    parser.add_argument("--batch-size", type=int, default=5000, help="points per write request (default 5000)")
    parser.add_argument("--dry-run", action="store_true", help="read and validate only; write nothing")


class RowConverter:
    """CSV row (five strings) -> line protocol, with small caches (timestamps and tag sets repeat)."""

    def __init__(self) -> None:
        self._tags: dict[tuple[str, str, str], str] = {}
        self._last_ts = ""
        self._last_ms = ""

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
            tags = tag_set(unitid, epc, dataid)
            if len(self._tags) < 10_000:
                self._tags[key] = tags
        if ts != self._last_ts:
            try:
                when = datetime.fromisoformat(ts)
            except ValueError:
                raise ValueError(f"bad timestamp {ts[:40]!r}") from None
            if when.tzinfo is None:
                raise ValueError(f"timestamp {ts[:40]!r} has no UTC offset")
            self._last_ms = str(epoch_ms(when))
            self._last_ts = ts
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"bad value {value[:40]!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"value {value[:40]!r} is not a finite number")
        return f"{tags} value={number!r} {self._last_ms}"


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


class _Writer:
    def __init__(self, url: str, token: str, org: str, bucket: str) -> None:
        from influxdb_client import InfluxDBClient, WritePrecision
        from influxdb_client.client.write_api import SYNCHRONOUS

        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=60_000)
        self._api = self._client.write_api(write_options=SYNCHRONOUS)
        self._org, self._bucket, self._precision = org, bucket, WritePrecision.MS

    def write(self, lines: list[str]) -> None:
        from logger.sinks.influx_sink import describe_failure

        body = "\n".join(lines)
        delay = 1.0
        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                self._api.write(bucket=self._bucket, org=self._org, record=body, write_precision=self._precision)
                return
            except Exception as exc:  # noqa: BLE001 - classified, re-raised with a clear message
                kind, message = describe_failure(exc, self._org, self._bucket)
                if kind != "transient" or attempt == TRANSIENT_RETRIES:
                    raise RuntimeError(message) from None
                time.sleep(delay)
                delay *= 2

    def close(self) -> None:
        self._api.close()
        self._client.close()


def main(args: argparse.Namespace) -> int:
    err = sys.stderr
    if args.batch_size < 1:
        print("import: --batch-size must be at least 1", file=err)
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
    writer: _Writer | None = None
    if not args.dry_run:
        for name, value, env in (("--url", url, "INFLUXDB_URL"), ("--token", token, "INFLUXDB_TOKEN"),
                                 ("--org", org, "INFLUXDB_ORG"), ("--bucket", bucket, "INFLUXDB_BUCKET")):
            if not value:
                print(f"import: no InfluxDB {name[2:]}; pass {name} or set {env} in .env", file=err)
                return 2
        assert url and token and org and bucket
        writer = _Writer(url, token, org, bucket)

    progress = Progress(err)
    converter = RowConverter()
    total = bad = 0
    started = time.monotonic()
    batch: list[str] = []
    try:
        for name in args.files:
            try:
                fh = open(name, newline="", encoding="utf-8")
            except OSError as exc:
                print(f"import: cannot read {name}: {exc.strerror}", file=err)
                return 1
            with fh:
                for lineno, row in enumerate(csv.reader(fh), start=1):
                    if lineno == 1 and tuple(row) == CSV_HEADER:
                        continue
                    if not row:
                        continue
                    try:
                        batch.append(converter.line(row))
                    except ValueError as exc:
                        bad += 1
                        if bad <= MAX_REPORTED_BAD_ROWS:
                            print(f"{name}:{lineno}: {exc}; row skipped", file=err)
                        continue
                    total += 1
                    if len(batch) >= args.batch_size:
                        if writer:
                            writer.write(batch)
                        batch = []
                        progress.update(name, total)
                progress.update(name, total, force=True)
        if batch and writer:
            writer.write(batch)
    except RuntimeError as exc:
        progress.done()
        print(f"import: {exc}", file=err)
        return 1
    except UnicodeDecodeError as exc:
        progress.done()
        print(f"import: {name}: not UTF-8 text ({exc.reason})", file=err)
        return 1
    finally:
        if writer:
            writer.close()
    progress.done()
    if bad > MAX_REPORTED_BAD_ROWS:
        print(f"import: ... {bad - MAX_REPORTED_BAD_ROWS} more bad rows not shown", file=err)
    elapsed = time.monotonic() - started
    verb = "validated (dry run)" if args.dry_run else "imported"
    print(f"import: {verb} {total} rows from {len(args.files)} files, {bad} bad rows skipped, in {elapsed:.1f} s",
          file=err)
    return 0
