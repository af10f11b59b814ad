"""``smartmeter-logger replay``: decode a dongle transcript into the rows the logger would record.

A support tool: users attach what their dongle printed to a bug report, and anyone can
see, with the logger's own decoding, what it means. Two inputs, told apart by their first line:

* a transcript written by ``run --transcript`` (:mod:`logger.transcript`): only what the dongle
  printed (``<``) is decoded, and a reading without a meter time is stamped with the time its
  line was received, as the logger stamped it; the rotated files are given oldest first
  (``replay t.log.2 t.log.1 t.log``);
* a J11 adapter's transcript (frames hex-dumped, ``< J11 D0F9EE5D…``) or its raw output with
  ``--dongle j11``: the frames are decoded as the logger's J11 link decodes them (0x6018 → the
  ECHONET frame);
* plain dongle output (a terminal capture, a log): lines that are not dongle output (our own
  commands, log prefixes, notes) are ignored; readings without a meter time get ``--clock``.

Energy needs E1 (and D3) from earlier in the transcript or ``--unit``/``--coefficient``; without
them a reading is reported on stderr and skipped, never guessed. A half-hour slot (EA/EB) is
printed once, as the logger records it once. ``--events`` also prints every dongle event, as the
dongle printed it, on stderr.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logger.echonet import meter as em
from logger.echonet.frame import ESV, METER, FrameError, decode_frame
from logger.link.j11_events import J11Reader
from logger.readings import CSV_HEADER, format_timestamp
from logger.recording import frame_readings
from logger.skstack.dialects import dialect_names, get_dialect
from logger.skstack.events import RxUdp
from logger.skstack.families import is_j11
from logger.skstack.parser import SkParser
from logger.transcript import FROM_DONGLE, J11_ROW, is_transcript, read_lines

ECHONET_PORT = 0x0E1A
#: How much of a file is read to tell a transcript from plain dongle output.
MAX_FIRST_LINE = 4096
UNIT_CODES = {Decimal(v): k for k, v in {0x00: "1", 0x01: "0.1", 0x02: "0.01", 0x03: "0.001", 0x04: "0.0001",
                                        0x0A: "10", 0x0B: "100", 0x0C: "1000", 0x0D: "10000"}.items()}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE|-",
                   help="a transcript (run --transcript; rotated files oldest first) or what the dongle "
                        "printed ('-' = stdin)")
    p.add_argument("--dongle", default="auto", choices=["auto", *dialect_names()],
                   help="dongle dialect (default: tell from the lines)")
    p.add_argument("--unitid", default="smartmeter", help="unitid column (default: smartmeter)")
    p.add_argument("--clock", help="ISO-8601 time for readings without a meter timestamp in plain dongle output "
                                   "(default: now; a transcript has its own times)")
    p.add_argument("--timezone", default="Asia/Tokyo", help="the meter's timezone (default: Asia/Tokyo)")
    p.add_argument("--unit", help="kWh per count (E1) when the transcript has no E1, e.g. 0.1")
    p.add_argument("--coefficient", type=int, help="coefficient (D3) when the transcript has no D3")
    p.add_argument("--events", action="store_true",
                   help="also print every dongle event on stderr, in the dongle's notation")


def _fail(message: str) -> int:
    print(f"replay: {message}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    try:
        tz = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return _fail(f"unknown timezone {args.timezone!r}; use an IANA name such as Asia/Tokyo")
    if args.clock:
        try:
            taken = datetime.fromisoformat(args.clock)
        except ValueError:
            return _fail(f"--clock {args.clock!r} is not ISO-8601; example: 2026-11-22T10:30:00+09:00")
        taken = taken.replace(tzinfo=tz) if taken.tzinfo is None else taken.astimezone(tz)
    else:
        taken = datetime.now(tz)
    ctx = em.MeterContext()
    if args.unit is not None:
        try:
            code = UNIT_CODES[Decimal(args.unit)]
        except (KeyError, InvalidOperation):
            return _fail(f"--unit {args.unit!r} is not an E1 unit; use one of "
                         + ", ".join(str(u) for u in UNIT_CODES))
        ctx.observe(0xE1, em.decode(0xE1, bytes([code])))
    if args.coefficient is not None:
        if not 1 <= args.coefficient <= 999_999:
            return _fail("--coefficient must be 1..999999 (D3)")
        ctx.observe(0xD3, em.decode(0xD3, args.coefficient.to_bytes(4, "big")))
    j11 = is_j11(args.dongle)
    rows = _Rows(SkParser(None if args.dongle == "auto" or j11 else get_dialect(args.dongle)), ctx, args.unitid, tz,
                 args.events, j11)
    for name in args.files:
        try:
            stream = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115
        except OSError as exc:
            return _fail(f"cannot read {name}: {exc.strerror}")
        with stream:
            first = stream.readline(MAX_FIRST_LINE)
            if is_transcript(first):
                rows.transcript(itertools.chain([first], stream), tz)
            else:
                rows.feed(first, taken)
                while chunk := stream.read(65536):
                    rows.feed(chunk, taken)
    rows.end()
    bad = f"; {rows.bad} transcript line(s) unreadable" if rows.bad else ""
    print(f"replay: {rows.count} row(s); {rows.skipped} problem(s); {rows.parser.dropped} line(s) not dongle "
          f"output{bad}", file=sys.stderr)
    return 0


class _Rows:
    """Dongle bytes → events → the CSV rows the logger records (on stdout)."""

    def __init__(self, parser: SkParser, ctx: em.MeterContext, unitid: str, tz: ZoneInfo, events: bool,
                 j11: bool = False) -> None:
        self.parser, self.ctx, self.unitid, self.tz, self.events = parser, ctx, unitid, tz, events
        self.j11, self.reader = j11, J11Reader()
        self.out = csv.writer(sys.stdout, lineterminator="\n")
        self.out.writerow(CSV_HEADER)
        self.count = self.skipped = self.bad = 0
        self._slots: set[tuple[str, str]] = set()  # (EA/EB, time): a half-hour slot is one row
        self._last: datetime | None = None

    def transcript(self, lines: Iterable[bytes], tz: ZoneInfo) -> None:
        for row in read_lines(lines):
            if row is None:
                self.bad += 1
            elif row[1] == FROM_DONGLE:
                assert isinstance(row[2], bytes)
                when, shown = row[0].astimezone(tz), format_timestamp(row[0])
                if row[2].startswith((J11_ROW, b"J11? ")):  # a J11 frame, hex-dumped
                    try:
                        frame = bytes.fromhex(row[2].split(b" ", 1)[1].decode("ascii"))
                    except ValueError:
                        self.bad += 1
                        continue
                    self._last = when
                    for ev in self.reader.feed(frame):
                        self._emit(ev, when, shown)
                else:
                    self.feed(row[2], when, shown=shown)

    def feed(self, data: bytes, taken: datetime, shown: str = "") -> None:
        self._last = taken
        for ev in (self.reader.feed(data) if self.j11 else self.parser.feed(data)):
            self._emit(ev, taken, shown)

    def end(self) -> None:
        for ev in self.parser.flush():
            self._emit(ev, self._last or datetime.now(self.tz), "")

    def _emit(self, ev: object, taken: datetime, shown: str) -> None:
        if self.events:
            print(f"{shown} {ev!r}".lstrip(), file=sys.stderr)
        if not isinstance(ev, RxUdp) or ECHONET_PORT not in (ev.lport, ev.rport):
            return
        try:
            frame = decode_frame(ev.data)
        except FrameError as exc:
            print(f"replay: skipped a malformed ECHONET frame: {exc}", file=sys.stderr)
            self.skipped += 1
            return
        if frame.seoj != METER or frame.esv not in (ESV.GET_RES, ESV.GET_SNA, ESV.INF, ESV.INFC):
            return
        res = frame_readings(frame, self.ctx, self.unitid, self.tz, taken)
        for problem in res.problems:
            print(f"replay: skipped: {problem} (or pass --unit/--coefficient)", file=sys.stderr)
        self.skipped += len(res.problems)
        for reading in res.readings:
            row = reading.csv_row()
            if reading.epc in ("EA", "EB"):
                if (reading.epc, row[0]) in self._slots:
                    continue
                self._slots.add((reading.epc, row[0]))
            self.out.writerow(row)
            self.count += 1
