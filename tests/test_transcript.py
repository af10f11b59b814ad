"""``run --transcript FILE``: the dongle dialogue, timestamped, credentials masked, rotated by size,
and read back by ``replay`` into the rows the logger recorded."""

from __future__ import annotations

import csv
import io
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from logger.clock import VirtualClock
from logger.echonet.frame import CONTROLLER, ESV, METER, Frame, Property
from logger.simulate.dongle_config import DEMO_PASSWORD, DEMO_RBID
from logger.skstack.events import PanDesc, RxUdp
from logger.skstack.parser import SkParser
from logger.transcript import (
    FROM_DONGLE,
    TO_DONGLE,
    TranscriptWriter,
    escape,
    read_lines,
    unescape,
)

REPO = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 11, 22, 10, 30, tzinfo=TZ).timestamp()
RBID, PASSWORD = "FAKE0000TEST1111FAKE2222TEST3333", "FAKEtestPW03"  # fakes
METER_IP = "FE80:0000:0000:0000:021C:6400:03DD:6393"
OURS = "FE80:0000:0000:0000:1207:23FF:FEA0:77E3"


def erxudp_binary(frame: Frame) -> bytes:
    data = frame.encode()
    return f"ERXUDP {METER_IP} {OURS} 0E1A 0E1A 001C640003DD6393 1 {len(data):04X} ".encode() + data + b"\r\n"


def rows_of(path: Path) -> list[tuple[datetime, str, bytes | str]]:
    with open(path, "rb") as fh:
        rows = list(read_lines(fh))
    assert None not in rows, f"{path} has a line that is not a transcript line"
    return rows  # type: ignore[return-value]


def received(paths: list[Path]) -> bytes:
    return b"".join(r[2] for p in paths for r in rows_of(p) if r[1] == FROM_DONGLE)  # type: ignore[misc]


# ---------------------------------------------------------------- the line format and the writer


def test_escaping_round_trips_every_byte_on_one_printable_line():
    rng = random.Random(1)
    for data in (bytes(range(256)), b"trailing space ", b"\\x41 is not A", b"\r\n\r\r\n\n",
                 *(rng.randbytes(rng.randrange(1, 300)) for _ in range(200))):
        text = escape(data)
        assert text.isascii() and text.isprintable() and not text.endswith(" ")
        assert unescape(text) == data
    with pytest.raises(ValueError):
        unescape("raw\ttab")


def test_credentials_are_masked_even_when_split_across_reads(tmp_path):
    clock = VirtualClock(START)
    w = TranscriptWriter(tmp_path / "t.log", TZ, clock, [RBID, PASSWORD])
    w.sent(f"SKSETPWD C {PASSWORD}\r\n".encode())
    w.sent(f"SKSETRBID {RBID}\r\n".encode())
    stream = (f"SKSETPWD C {PASSWORD}\r\nOK\r\nSKSETRBID {RBID}\r\nOK\r\n"
              f"EVENT 20 {METER_IP}\r\nEPANDESC\r\n  Channel:21\r\n  Channel Page:09\r\n  Pan ID:6393\r\n"
              f"  Addr:001C640003DD6393\r\n  LQI:E1\r\n  PairID:{RBID[-8:]}\r\n"
              f"garbled {PASSWORD} and {RBID}\r\n").encode()
    cuts = sorted(random.Random(2).sample(range(1, len(stream)), 25))
    for a, b in zip([0, *cuts], [*cuts, len(stream)]):
        clock.advance(0.01)
        w.received(stream[a:b])
    w.close()
    text = (tmp_path / "t.log").read_text()
    for secret in (PASSWORD, RBID, RBID[-8:], RBID[:16], RBID[16:]):
        assert secret not in text
    assert "> SKSETPWD C ********\\r\\n" in text and "< SKSETRBID ********\\r\\n" in text
    # what is left is still the dongle's dialogue: replay's parser reads the scan result from it
    events = SkParser().feed(received([tmp_path / "t.log"]))
    (desc,) = [e for e in events if isinstance(e, PanDesc)]
    assert (desc.channel, desc.pan_id, desc.lqi) == (0x21, 0x6393, 0xE1) and desc.pair_id != RBID[-8:]


def test_binary_erxudp_survives_any_split(tmp_path):
    frame = Frame(0x0A0D, METER, CONTROLLER, ESV.GET_RES,
                  (Property(0xE7, b"\x00\x00\x0d\x0a"), Property(0xE8, b"\x00\x0d\x00\x0a")))
    stream = b"EVENT 21 " + METER_IP.encode() + b" 00\r\nOK\r\n" + erxudp_binary(frame) * 3 + b"OK 00\r"
    clock = VirtualClock(START)
    w = TranscriptWriter(tmp_path / "t.log", TZ, clock)
    cuts = sorted(random.Random(3).sample(range(1, len(stream)), 30))
    for a, b in zip([0, *cuts], [*cuts, len(stream)]):
        clock.advance(0.5)
        w.received(stream[a:b])
    w.sent(b"SKSENDTO 1 " + METER_IP.encode() + b" 0E1A 1 0004 \r\n\x00\\")
    w.close()
    assert received([tmp_path / "t.log"]) == stream
    sent = [r[2] for r in rows_of(tmp_path / "t.log") if r[1] == TO_DONGLE]
    assert b"".join(sent).endswith(b"0004 \r\n\x00\\")  # type: ignore[arg-type]
    rx = [e for e in SkParser().feed(received([tmp_path / "t.log"])) if isinstance(e, RxUdp)]
    assert [e.data for e in rx] == [frame.encode()] * 3
    assert all(r[0].tzinfo is not None for r in rows_of(tmp_path / "t.log"))


def test_rotation_by_size_keeps_the_newest_files_whole(tmp_path):
    clock = VirtualClock(START)
    path = tmp_path / "t.log"
    w = TranscriptWriter(path, TZ, clock, max_bytes=600, backups=2)
    for i in range(200):
        clock.advance(1)
        w.received(f"EVENT 21 {METER_IP} {i % 256:02X}\r\n".encode())
    w.close()
    files = [path.with_name("t.log.2"), path.with_name("t.log.1"), path]
    assert all(p.is_file() for p in files) and not path.with_name("t.log.3").exists()
    for p in files:
        assert p.stat().st_size <= 600
        assert p.stat().st_mode & 0o007 == 0, "a transcript must not be world-readable"
        assert rows_of(p)[0][1] == "#"  # each file starts with the header note
    # the kept files are the newest lines, oldest first, without a gap
    params = [int(line.split()[-1], 16) for line in received(files).decode().splitlines()]
    assert params == [i % 256 for i in range(200 - len(params), 200)] and len(params) > 10


def test_unwritable_transcript_is_a_one_line_error_exit_2(tmp_path):
    (tmp_path / "a-file").write_text("")
    proc = subprocess.run([sys.executable, "-m", "logger", "run", "--simulate", "--transcript",
                           str(tmp_path / "a-file" / "t.log")], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "--transcript" in proc.stderr
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------- the real process


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BROUTE_", "INFLUXDB_", "SERIAL_", "CSV_", "STATE_", "DEBUG"))}
    env.update(PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1",
               CSV_DIR=str(tmp_path / "data"), STATE_DIR=str(tmp_path / "state"))
    return env


def _csv_rows(text: str) -> list[list[str]]:
    return [r for r in csv.reader(io.StringIO(text)) if r and r[0] != "timestamp"]


@pytest.mark.slow
def test_run_transcript_replays_to_the_rows_the_logger_recorded(tmp_path):
    env = _env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "logger", "run", "--simulate", "--transcript", "t.log"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 150  # a bound, not an expectation: ~25 s to scan and join
        seen = None
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            if any(",E7," in f.read_text() for f in (tmp_path / "data").glob("*.csv")):
                seen = seen or time.monotonic()
                if time.monotonic() - seen > 1.5:
                    break
        assert seen, "no E7 row within the bound"
        stopped_at = time.time()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err

    transcript = (tmp_path / "t.log").read_bytes()
    for secret in (DEMO_RBID, DEMO_PASSWORD, DEMO_RBID[-8:]):
        assert secret.encode() not in transcript
    assert b"> SKSETPWD C ********" in transcript and b"PairID" in transcript  # masked, not left out

    replay = subprocess.run([sys.executable, "-m", "logger", "replay", "t.log"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert replay.returncode == 0, replay.stderr
    files = sorted((tmp_path / "data").glob("*.csv"))  # daily files: chronological by name
    logged = [r for f in files for r in _csv_rows(f.read_text()) if r[2] in ("E7", "E8", "E0", "EA")]
    replayed = [r for r in _csv_rows(replay.stdout) if r[2] in ("E7", "E8", "E0", "EA")]
    assert {r[2] for r in logged} == {"E7", "E8", "E0", "EA"}, logged
    # half-hour values carry the meter's own time: the very same rows (a row goes to the file of
    # its own date, so compared as sets)
    assert sorted(r for r in replayed if r[2] == "EA") == sorted(r for r in logged if r[2] == "EA")
    # the others carry the time their line was received, as the logger stamped it (to the
    # millisecond or so); a reading the logger had no time to record after SIGTERM may follow
    logged = [r for r in logged if r[2] != "EA"]
    replayed = [r for r in replayed if r[2] != "EA"]
    assert [r[1:] for r in replayed[: len(logged)]] == [r[1:] for r in logged]
    for got, want in zip(replayed, logged):
        assert abs(datetime.fromisoformat(got[0]) - datetime.fromisoformat(want[0])).total_seconds() < 1
    extra = replayed[len(logged):]
    assert all(datetime.fromisoformat(r[0]).timestamp() >= stopped_at - 1 for r in extra), extra
