import csv
import logging
import os
import stat
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from privileges import unprivileged

import logger.sinks.csv_sink as csv_sink
from logger.readings import Reading
from logger.sinks.csv_sink import CsvSink

TOKYO = ZoneInfo("Asia/Tokyo")
PATTERN = "%Y%m%d-smartmeter.csv"
HEADER = "timestamp,unitid,epc,dataid,value"


def r(when: str, epc: str = "E7", value: str = "100", dataid: str = "") -> Reading:
    return Reading(datetime.fromisoformat(when).replace(tzinfo=TOKYO), "smartmeter", epc, dataid, Decimal(value))


def lines(path) -> list[str]:
    return path.read_text().splitlines()


def test_header_once_and_rows_in_csv_format(tmp_path):
    sink = CsvSink(tmp_path, PATTERN, TOKYO)
    sink.write([r("2026-11-22T10:30:00", value="1962"), r("2026-11-22T10:30:00", "E8", "12.5", "R")])
    sink.write([r("2026-11-22T10:30:10", value="-3")])
    sink.close()
    sink = CsvSink(tmp_path, PATTERN, TOKYO)
    sink.write([r("2026-11-22T10:30:20", value="7")])
    sink.close()
    assert lines(tmp_path / "20261122-smartmeter.csv") == [
        HEADER,
        "2026-11-22T10:30:00.000+09:00,smartmeter,E7,,1962",
        "2026-11-22T10:30:00.000+09:00,smartmeter,E8,R,12.5",
        "2026-11-22T10:30:10.000+09:00,smartmeter,E7,,-3",
        "2026-11-22T10:30:20.000+09:00,smartmeter,E7,,7",
    ]


def test_rows_go_to_the_file_of_their_own_local_date(tmp_path):
    sink = CsvSink(tmp_path, PATTERN, TOKYO)
    utc_reading = Reading(datetime.fromisoformat("2026-11-22T15:00:00+00:00"), "smartmeter", "E7", "", Decimal(5))
    sink.write([
        r("2026-11-22T23:59:50"),
        r("2026-11-23T00:00:00"),
        r("2026-11-22T23:30:00", "EA", "123.4"),  # backfilled after midnight
        utc_reading,  # 2026-11-23 00:00 in Tokyo
    ])
    sink.close()
    day1 = lines(tmp_path / "20261122-smartmeter.csv")
    day2 = lines(tmp_path / "20261123-smartmeter.csv")
    assert day1 == [HEADER, "2026-11-22T23:59:50.000+09:00,smartmeter,E7,,100",
                    "2026-11-22T23:30:00.000+09:00,smartmeter,EA,,123.4"]
    assert day2 == [HEADER, "2026-11-23T00:00:00.000+09:00,smartmeter,E7,,100",
                    "2026-11-23T00:00:00.000+09:00,smartmeter,E7,,5"]


def test_partial_last_line_is_repaired(tmp_path, caplog):
    path = tmp_path / "20261122-smartmeter.csv"
    path.write_text(HEADER + "\n2026-11-22T10:00:00.000+09:00,smartmeter,E7,,5\n2026-11-22T10:00:10.000+09:00,sma")
    sink = CsvSink(tmp_path, PATTERN, TOKYO)
    with caplog.at_level(logging.WARNING):
        sink.write([r("2026-11-22T10:00:20", value="6")])
    sink.close()
    assert lines(path) == [HEADER, "2026-11-22T10:00:00.000+09:00,smartmeter,E7,,5",
                           "2026-11-22T10:00:20.000+09:00,smartmeter,E7,,6"]
    assert f"dropped {len('2026-11-22T10:00:10.000+09:00,sma')} bytes" in caplog.text


def test_partial_header_only_is_replaced_by_a_full_header(tmp_path):
    path = tmp_path / "20261122-smartmeter.csv"
    path.write_text("timestamp,uni")
    sink = CsvSink(tmp_path, PATTERN, TOKYO)
    sink.write([r("2026-11-22T10:00:20", value="6")])
    sink.close()
    assert lines(path) == [HEADER, "2026-11-22T10:00:20.000+09:00,smartmeter,E7,,6"]


def test_meter_timestamped_rows_are_not_duplicated_across_reopen(tmp_path):
    sink = CsvSink(tmp_path, PATTERN, TOKYO)
    history = [r("2026-11-22T09:00:00", "E2", "10"), r("2026-11-22T09:30:00", "E2", "11"),
               r("2026-11-22T09:30:00", "EC", "1", "normal"), r("2026-11-22T09:30:00", "EC", "0", "reverse")]
    sink.write(history + [r("2026-11-22T09:30:00", "E2", "11")])  # duplicate inside one batch too
    sink.close()
    sink = CsvSink(tmp_path, PATTERN, TOKYO)
    sink.write(history + [r("2026-11-22T10:00:00", "E2", "12"), r("2026-11-22T10:00:00"), r("2026-11-22T10:00:00")])
    sink.close()
    rows = list(csv.reader(open(tmp_path / "20261122-smartmeter.csv")))[1:]
    keys = [tuple(row[:4]) for row in rows if row[2] != "E7"]
    assert len(keys) == len(set(keys)) == 5
    assert sum(1 for row in rows if row[2] == "E7") == 2  # live rows are never de-duplicated


def test_keys_of_live_rows_are_not_kept(tmp_path):
    sink = CsvSink(tmp_path, PATTERN, TOKYO)
    sink.write([r(f"2026-11-22T10:{m:02d}:00") for m in range(60)] + [r("2026-11-22T10:30:00", "EA", "5")])
    (f,) = sink._files.values()
    assert f.keys == {("2026-11-22T10:30:00.000+09:00", "smartmeter", "EA", "")}
    sink.close()


def test_file_and_directory_modes(tmp_path):
    old = os.umask(0)
    try:
        sink = CsvSink(tmp_path / "data", PATTERN, TOKYO)
        sink.write([r("2026-11-22T10:00:00")])
        sink.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "data").st_mode) == 0o750
    assert stat.S_IMODE(os.stat(tmp_path / "data" / "20261122-smartmeter.csv").st_mode) == 0o640


class _Refuse:
    """Makes the sink's file operations fail like a read-only or full disk."""

    def __init__(self, monkeypatch):
        self.on = True
        real_open, real_write = os.open, os.write

        def fake_open(path, flags, mode=0o777, *a, **kw):
            if self.on and str(path).endswith(".csv"):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, flags, mode, *a, **kw)

        def fake_write(fd, data):
            if self.on:
                # a short write first, then ENOSPC: the sink must not leave the half line behind
                n = real_write(fd, bytes(data[: max(1, len(data) // 2)]))
                if n:
                    raise OSError(28, "No space left on device")
            return real_write(fd, data)

        monkeypatch.setattr(csv_sink.os, "open", fake_open)
        self.fake_write = fake_write
        self.real_write = real_write
        self.monkeypatch = monkeypatch


def test_unwritable_directory_keeps_rows_and_writes_them_later_in_order(tmp_path, monkeypatch, caplog):
    refuse = _Refuse(monkeypatch)
    sink = CsvSink(tmp_path, PATTERN, TOKYO)
    with caplog.at_level(logging.ERROR):
        sink.write([r("2026-11-22T10:00:00", value="1")])
        sink.write([r("2026-11-22T10:00:10", value="2")])
    assert sink.pending == 2
    assert caplog.text.count("cannot write") == 1  # logged once
    assert not (tmp_path / "20261122-smartmeter.csv").exists()
    refuse.on = False
    sink.write([r("2026-11-22T10:00:20", value="3")])
    sink.close()
    assert sink.pending == 0
    assert [line.rsplit(",", 1)[1] for line in lines(tmp_path / "20261122-smartmeter.csv")[1:]] == ["1", "2", "3"]


def test_disk_full_mid_write_never_leaves_a_truncated_line(tmp_path, monkeypatch):
    sink = CsvSink(tmp_path, PATTERN, TOKYO)
    sink.write([r("2026-11-22T10:00:00", value="1")])
    refuse = _Refuse(monkeypatch)
    refuse.on = False
    monkeypatch.setattr(csv_sink.os, "write", refuse.fake_write)
    refuse.on = True
    sink.write([r("2026-11-22T10:00:10", value="2"), r("2026-11-22T10:00:20", value="3")])
    assert sink.pending == 2
    path = tmp_path / "20261122-smartmeter.csv"
    assert path.read_bytes().endswith(b",1\n")
    refuse.on = False
    sink.flush()
    sink.close()
    assert [line.rsplit(",", 1)[1] for line in lines(path)[1:]] == ["1", "2", "3"]


def test_pending_queue_is_bounded_and_drops_the_oldest(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(csv_sink, "PENDING_LIMIT", 3)
    refuse = _Refuse(monkeypatch)
    sink = CsvSink(tmp_path, PATTERN, TOKYO)
    with caplog.at_level(logging.ERROR):
        sink.write([r(f"2026-11-22T10:00:0{i}", value=str(i)) for i in range(5)])
    assert sink.pending == 3
    assert "2 rows dropped" in caplog.text
    refuse.on = False
    sink.close()
    assert [line.rsplit(",", 1)[1] for line in lines(tmp_path / "20261122-smartmeter.csv")[1:]] == ["2", "3", "4"]


READ_ONLY_DIRECTORY = """
import os, sys
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo
from logger.readings import Reading
from logger.sinks.csv_sink import CsvSink

tz, d = ZoneInfo("Asia/Tokyo"), sys.argv[1]
def r(when, value):
    return Reading(datetime.fromisoformat(when).replace(tzinfo=tz), "smartmeter", "E7", "", Decimal(value))
sink = CsvSink(d, "%Y%m%d-smartmeter.csv", tz)
os.chmod(d, 0o500)
try:
    sink.write([r("2026-11-22T10:00:00", "1")])
    assert sink.pending == 1, f"pending {sink.pending}: the directory was writable after all"
    assert not os.listdir(d)
finally:
    os.chmod(d, 0o750)
sink.write([r("2026-11-22T10:00:10", "2")])
sink.close()
print("done")
"""


def test_real_read_only_directory(tmp_path):
    # a subprocess, so root (CI) can drop its permission bypass: see tests/privileges.py
    result = subprocess.run(unprivileged([sys.executable, "-c", READ_ONLY_DIRECTORY, str(tmp_path)]),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "done", result.stderr
    assert "permission denied" in result.stderr.lower() or "Permission denied" in result.stderr
    assert [line.rsplit(",", 1)[1] for line in lines(tmp_path / "20261122-smartmeter.csv")[1:]] == ["1", "2"]
