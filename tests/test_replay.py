"""``smartmeter-logger replay``: a dongle transcript in, the rows the logger would record out."""

from __future__ import annotations

import ast
import csv
import io
import subprocess
import sys

import pytest
from datafiles import captured_entries

from logger.echonet.frame import CONTROLLER, ESV, METER, Frame, Property

HEADER = ["timestamp", "unitid", "epc", "dataid", "value"]
MAC = "001C640003DD6393"
METER_IP = "FE80:0000:0000:0000:021C:6400:03DD:6393"
OURS = "FE80:0000:0000:0000:1207:23FF:FEA0:77E3"


def replay(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "logger", "replay", *args], input=stdin,
                          capture_output=True, check=False)


def table(out: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(out.decode())))


def line(frame: Frame, binary: bool = False, ds: bool = False) -> bytes:
    data = frame.encode()
    side = " 0" if ds else ""
    head = f"ERXUDP {METER_IP} {OURS} 0E1A 0E1A {MAC} 1{side} {len(data):04X} ".encode()
    return head + (data if binary else data.hex().upper().encode()) + b"\r\n"


def res(tid: int, *props: Property, esv: int = ESV.GET_RES) -> Frame:
    return Frame(tid, METER, CONTROLLER, esv, props)


def test_every_captured_erxudp_frame_replays_to_its_expected_values(tmp_path):
    entries = captured_entries()
    transcript = bytearray()
    expected_e7 = []
    for e in entries:
        raw = e["raw"]
        if e["kind"] != "erxudp" or not isinstance(raw, str):
            continue
        data = ast.literal_eval(raw) if raw.startswith("b'") else raw.encode() + b"\r\n"
        transcript += data
        props = e["expected"].get("properties", {})
        if "E7" in props:
            expected_e7.append(str(props["E7"]["value"]))
    path = tmp_path / "t.txt"
    path.write_bytes(bytes(transcript))
    r = replay(str(path), "--clock", "2026-11-22T10:00:00+09:00")
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    assert rows[0] == HEADER
    assert [x[4] for x in rows[1:] if x[2] == "E7"] == expected_e7  # -1962, 28, 1374, 668, 504 ...
    e8 = [(x[3], x[4]) for x in rows[1:] if x[2] == "E8"]
    assert ("R", "0") in e8 and ("T", "13") in e8 and ("R", "4") in e8
    assert all(x[0] == "2026-11-22T10:00:00.000+09:00" and x[1] == "smartmeter" for x in rows[1:])
    # E0 came before any E1 in this sample: reported and skipped, never guessed
    assert b"E0" in r.stderr and b"E1" in r.stderr and not [x for x in rows[1:] if x[2] == "E0"]


def test_energy_uses_context_from_the_transcript_and_meter_timestamps():
    transcript = (
        b"SKSENDTO 1 " + METER_IP.encode() + b" 0E1A 1 000E \r\n"  # our own command: ignored
        + b"EVENT 21 " + METER_IP.encode() + b" 00\r\nOK\r\n"
        + line(res(1, Property(0xD3, (10).to_bytes(4, "big")), Property(0xE1, b"\x02"),
                   Property(0xE0, (387120).to_bytes(4, "big"))))
        + line(res(2, Property(0xEA, bytes.fromhex("07EA0B160A1E00") + (387000).to_bytes(4, "big"))),
               binary=True)
        + line(res(3, Property(0xE8, bytes.fromhex("00827FFE"))))  # single-phase two-wire: T = 0x7FFE
    )
    r = replay("-", "--clock", "2026-11-22T10:31:05", "--unitid", "house1", stdin=transcript)
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)[1:]
    assert ["2026-11-22T10:31:05.000+09:00", "house1", "E0", "", "38712"] in rows  # 387120 x 10 x 0.01, exact
    assert ["2026-11-22T10:30:00.000+09:00", "house1", "EA", "", "38700"] in rows  # the meter's own time
    assert ["2026-11-22T10:31:05.000+09:00", "house1", "E8", "R", "13"] in rows
    assert not [x for x in rows if x[2] == "E8" and x[3] == "T"]  # no T row on two-wire service
    assert ["2026-11-22T10:31:05.000+09:00", "house1", "D3", "", "10"] in rows
    assert ["2026-11-22T10:31:05.000+09:00", "house1", "E1", "", "0.01"] in rows


def test_history_slots_become_half_hour_rows_with_their_own_times():
    slots = [(300 + i).to_bytes(4, "big") for i in range(20)] + [b"\xff\xff\xff\xfe"] * 28
    e2 = Property(0xE2, (1).to_bytes(2, "big") + b"".join(slots))  # day 1 = yesterday
    r = replay("-", "--clock", "2026-11-22T10:00:00+09:00", "--unit", "0.1", stdin=line(res(7, e2)))
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)[1:]
    assert len(rows) == 20  # future / missing slots (0xFFFFFFFE) give no row
    assert rows[0] == ["2026-11-21T00:00:00.000+09:00", "smartmeter", "EA", "", "30"]
    assert rows[-1][0] == "2026-11-21T09:30:00.000+09:00" and rows[-1][4] == "31.9"


def test_dual_stack_lines_and_garbage_are_handled():
    transcript = (b"\x00\xffnoise\r\ntrce: SkstackIpDotNet << hello\r\n"
                  + line(res(9, Property(0xE7, (1189).to_bytes(4, "big"))), ds=True))
    r = replay("-", "--dongle", "rl7023-dss", "--clock", "2026-11-22T10:00:00+09:00", stdin=transcript)
    assert r.returncode == 0, r.stderr
    assert table(r.stdout)[1:] == [["2026-11-22T10:00:00.000+09:00", "smartmeter", "E7", "", "1189"]]
    assert b"not dongle output" in r.stderr


@pytest.mark.parametrize("args,message", [
    (["--clock", "yesterday"], "not ISO-8601"),
    (["--timezone", "Mars/Olympus"], "unknown timezone"),
    (["--unit", "0.3"], "not an E1 unit"),
    (["/nonexistent/transcript.txt"], "cannot read"),
])
def test_bad_arguments_are_clear_errors(args, message):
    r = replay(*(args if args[0].startswith("/") else ["-", *args]), stdin=b"")
    assert r.returncode == 2 and message.encode() in r.stderr


# ---------------------------------------------------------------- transcripts (run --transcript)


def write_transcript(path, pieces, max_bytes=10 * 1024 * 1024, backups=5):
    """``pieces``: (seconds after 10:31:00, direction, bytes) through the logger's own writer."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from logger.clock import VirtualClock
    from logger.transcript import TranscriptWriter

    start = datetime(2026, 11, 22, 10, 31, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()
    clock = VirtualClock(start)
    w = TranscriptWriter(path, ZoneInfo("Asia/Tokyo"), clock, max_bytes=max_bytes, backups=backups)
    for at, direction, data in pieces:
        clock.advance(start + at - clock.time())
        (w.received if direction == "<" else w.sent)(data)
    w.close()


def test_a_transcript_replays_with_the_times_its_lines_were_received(tmp_path):
    e7 = line(res(5, Property(0xE7, (1189).to_bytes(4, "big"))), binary=True)
    ea = Property(0xEA, bytes.fromhex("07EA0B160A1E00") + (387000).to_bytes(4, "big"))
    e2 = Property(0xE2, (0).to_bytes(2, "big") + b"".join((386990 + i).to_bytes(4, "big") for i in range(22))
                  + b"\xff\xff\xff\xfe" * 26)
    sendto = b"SKSENDTO 1 " + METER_IP.encode() + b" 0E1A 1 000E " + res(5, Property(0xE7, b"")).encode()
    write_transcript(tmp_path / "t.log", [
        (0.0, ">", sendto),  # what we sent is never decoded as the meter's answer
        (0.2, "<", b"EVENT 21 " + METER_IP.encode() + b" 00\r\nOK\r\n"),
        (1.5, "<", e7[:40]), (1.75, "<", e7[40:]),  # an ERXUDP in two reads: the second one's time
        (2.0, "<", line(res(6, Property(0xD3, (1).to_bytes(4, "big")), Property(0xE1, b"\x01"), ea))),
        (3.0, "<", line(res(7, e2))),  # the same 10:30 slot again, from the history: one row
    ])
    r = replay(str(tmp_path / "t.log"), "--clock", "2020-01-01T00:00:00+09:00")
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)[1:]
    assert rows[0] == ["2026-11-22T10:31:01.750+09:00", "smartmeter", "E7", "", "1189"]
    assert ["2026-11-22T10:31:02.000+09:00", "smartmeter", "E1", "", "0.1"] in rows
    ea_rows = [x for x in rows if x[2] == "EA"]
    assert ["2026-11-22T10:30:00.000+09:00", "smartmeter", "EA", "", "38700"] in ea_rows
    assert len(ea_rows) == len({x[0] for x in ea_rows}) == 22  # 00:00 .. 10:30, each slot once
    assert not [x for x in rows if x[0].startswith("2020")]  # --clock is for plain dongle output only


def test_rotated_transcripts_replay_oldest_first(tmp_path):
    pieces = [(i * 10.0, "<", line(res(i, Property(0xE7, (100 + i).to_bytes(4, "big"))), binary=i % 2 == 0))
              for i in range(1, 31)]
    write_transcript(tmp_path / "t.log", pieces, max_bytes=1500, backups=9)
    files = sorted(tmp_path.glob("t.log.*"), key=lambda p: -int(p.suffix[1:])) + [tmp_path / "t.log"]
    assert len(files) > 2
    r = replay(*map(str, files))
    assert r.returncode == 0, r.stderr
    assert [x[4] for x in table(r.stdout)[1:]] == [str(100 + i) for i in range(1, 31)]


def test_events_are_shown_as_the_dongle_prints_them(tmp_path):
    scan = (b"EVENT 20 FE80:0000:0000:0000:021D:1290:0004:0A11\r\nEPANDESC\r\n  Channel:3B\r\n  Channel Page:09\r\n"
            b"  Pan ID:8257\r\n  Addr:001C640003DD8257\r\n  LQI:C4\r\n  PairID:89ABCDEF\r\n"
            b"EVENT 22 FE80:0000:0000:0000:021D:1290:0004:0A11\r\n"
            b"EVENT 32 FE80:0000:0000:0000:021D:1290:0004:0A11\r\nFAIL ER04\r\n")
    for source in ("plain", "transcript"):
        if source == "plain":
            r = replay("-", "--events", stdin=scan + line(res(1, Property(0xE7, (7).to_bytes(4, "big")))))
        else:
            write_transcript(tmp_path / "t.log", [(0.0, "<", scan)])
            r = replay(str(tmp_path / "t.log"), "--events")
        assert r.returncode == 0, r.stderr
        err = r.stderr.decode()
        assert "EVENT 20 (beacon received) FE80:0000:0000:0000:021D:1290:0004:0A11" in err
        assert "EVENT 32 (ARIB transmit-time limit engaged; sending refused)" in err
        assert "EPANDESC Channel:3B Channel Page:09 Pan ID:8257 Addr:001C640003DD8257 LQI:C4 PairID:********" in err
        assert "FAIL ER04 (command not supported)" in err
        assert "num=" not in err and "89ABCDEF" not in err
        if source == "plain":  # the data in hex, fields in the dongle's order
            assert f"ERXUDP {METER_IP} {OURS} 0E1A 0E1A {MAC} 1 0012 1081" in err
        else:  # a transcript's events carry the time their line was received
            assert "2026-11-22T10:31:00.000+09:00 EVENT 22 (active scan finished)" in err


def test_event_reprs_use_the_dongles_hex_notation():
    from logger.skstack.events import EInfo, EPort, Event, Fail, Ok, PanDesc, RxUdp

    assert repr(Event(0x20, METER_IP)) == f"EVENT 20 (beacon received) {METER_IP}"
    assert str(Event(0x21, METER_IP, 0, 0x02)) == f"EVENT 21 (UDP transmission finished) {METER_IP} 0 02"
    assert repr([Event(0x32)]) == "[EVENT 32 (ARIB transmit-time limit engaged; sending refused)]"
    desc = PanDesc(0x21, 0x09, 0x8257, "001C640003DD8257", 0x1E, side=0, pair_id="89ABCDEF")
    assert repr(desc) == "EPANDESC Channel:21 Channel Page:09 Pan ID:8257 Addr:001C640003DD8257 LQI:1E Side:0 PairID:********"
    assert repr(EInfo(OURS, "120723FFFEA077E3", 0x21, 0x8257, "FFFE")) == f"EINFO {OURS} 120723FFFEA077E3 21 8257 FFFE"
    rx = RxUdp(METER_IP, OURS, 0x0E1A, 0x0E1A, MAC, 1, b"\x10\x81", side=0, lqi=0x3C, binary=True)
    assert repr(rx) == f"ERXUDP {METER_IP} {OURS} 0E1A 0E1A {MAC} 3C 1 0 0002 1081"
    assert repr(EPort((3610, 716, 0))) == "EPORT 3610 716 0"  # EPORT lists ports in decimal
    assert (repr(Ok()), repr(Ok("01")), repr(Fail("ER10"))) == ("OK", "OK 01", "FAIL ER10 (command accepted but execution failed)")
