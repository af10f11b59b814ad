"""``smartmeter-logger replay``: decode a dongle transcript into the rows the logger would record.

A support tool: users attach what their dongle printed to a bug report, and anyone can
see, with the logger's own decoding, what it means. Lines that are not dongle output
(our own commands, log prefixes, notes) are ignored. Energy needs E1 (and D3) from earlier
in the transcript or ``--unit``/``--coefficient``; without them a reading is reported on
stderr and skipped, never guessed.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logger.echonet import meter as em
from logger.echonet.frame import ESV, METER, FrameError, decode_frame
from logger.readings import CSV_HEADER
from logger.recording import frame_readings
from logger.skstack.dialects import dialect_names, get_dialect
from logger.skstack.events import RxUdp
from logger.skstack.parser import SkParser

ECHONET_PORT = 0x0E1A
UNIT_CODES = {Decimal(v): k for k, v in {0x00: "1", 0x01: "0.1", 0x02: "0.01", 0x03: "0.001", 0x04: "0.0001",
                                        0x0A: "10", 0x0B: "100", 0x0C: "1000", 0x0D: "10000"}.items()}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE|-", help="transcript of what the dongle printed ('-' = stdin)")
    p.add_argument("--dongle", default="auto", choices=["auto", *dialect_names()],
                   help="dongle dialect (default: tell from the lines)")
    p.add_argument("--unitid", default="smartmeter", help="unitid column (default: smartmeter)")
    p.add_argument("--clock", help="ISO-8601 time for readings without a meter timestamp (default: now)")
    p.add_argument("--timezone", default="Asia/Tokyo", help="the meter's timezone (default: Asia/Tokyo)")
    p.add_argument("--unit", help="kWh per count (E1) when the transcript has no E1, e.g. 0.1")
    p.add_argument("--coefficient", type=int, help="coefficient (D3) when the transcript has no D3")


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
    try:
        stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        return _fail(f"cannot read {args.file}: {exc.strerror}")
    parser = SkParser(None if args.dongle == "auto" else get_dialect(args.dongle))
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(CSV_HEADER)
    rows = skipped = 0
    with stream:
        while chunk := stream.read(65536):
            for ev in parser.feed(chunk):
                r, s = _emit(ev, ctx, args.unitid, tz, taken, out)
                rows, skipped = rows + r, skipped + s
        for ev in parser.flush():
            r, s = _emit(ev, ctx, args.unitid, tz, taken, out)
            rows, skipped = rows + r, skipped + s
    print(f"replay: {rows} row(s); {skipped} problem(s); {parser.dropped} line(s) not dongle output",
          file=sys.stderr)
    return 0


def _emit(ev, ctx, unitid, tz, taken, out) -> tuple[int, int]:
    if not isinstance(ev, RxUdp) or ECHONET_PORT not in (ev.lport, ev.rport):
        return 0, 0
    try:
        frame = decode_frame(ev.data)
    except FrameError as exc:
        print(f"replay: skipped a malformed ECHONET frame: {exc}", file=sys.stderr)
        return 0, 1
    if frame.seoj != METER or frame.esv not in (ESV.GET_RES, ESV.GET_SNA, ESV.INF, ESV.INFC):
        return 0, 0
    res = frame_readings(frame, ctx, unitid, tz, taken)
    for problem in res.problems:
        print(f"replay: skipped: {problem} (or pass --unit/--coefficient)", file=sys.stderr)
    for reading in res.readings:
        out.writerow(reading.csv_row())
    return len(res.readings), len(res.problems)
