"""Disk full / unwritable data directory: a clear error, rows kept in memory (bounded), written
when writing works again, never a truncated or half-written file.

How the failures are made without privileges (root ignores permissions, and there is no
loop or tmpfs mount here):

* **disk full**: a subprocess sets ``RLIMIT_FSIZE`` (with ``SIGXFSZ`` ignored), so a write
  that would pass the limit writes what fits and the next one fails with ``EFBIG`` - the
  same path as ``ENOSPC`` (a short write, then an ``OSError``). Raising the soft limit again
  is "space came back".
* **directory unusable** (read-only / removed): the data directory is replaced by a
  regular file, so opening or creating a file in it fails (``ENOTDIR``/``EEXIST``).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from logger.readings import CSV_HEADER, Reading
from logger.sinks import csv_sink
from logger.sinks.csv_sink import CsvSink

REPO = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Asia/Tokyo")
HEADER_LINE = ",".join(CSV_HEADER) + "\n"


def _run(script: str, tmp_path: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    result["stderr"] = proc.stderr
    return result


def _rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), f"{path} ends in a partial line"
    text = raw.decode()
    assert text.startswith(HEADER_LINE) and text.count("timestamp,unitid") == 1
    rows = list(csv.reader(text.splitlines()[1:]))
    assert all(len(r) == 5 for r in rows)
    return rows


COMMON = """
    import json, logging, os, resource, signal, sys
    from datetime import datetime, timedelta
    from decimal import Decimal
    from pathlib import Path
    from zoneinfo import ZoneInfo
    from logger.readings import Reading
    from logger.sinks import csv_sink
    from logger.sinks.csv_sink import CsvSink

    root = Path(sys.argv[1])
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    TZ = ZoneInfo("Asia/Tokyo")
    T0 = datetime(2026, 11, 22, 10, 0, tzinfo=TZ)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def reading(i):
        return Reading(T0 + timedelta(seconds=i), "smartmeter", "E7", "", Decimal(1000 + i))

    def full(limit):
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

    def space_back():
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
"""


def test_disk_full_keeps_rows_in_memory_and_writes_them_when_space_returns(tmp_path):
    script = COMMON + """
    sink = CsvSink(root / "data", "%Y%m%d.csv", TZ)
    sink.write([reading(i) for i in range(10)])          # a file exists with 10 rows
    path = root / "data" / "20261122.csv"
    size_ok = path.stat().st_size
    full(size_ok + 100)                                   # ~2 more rows fit, then EFBIG
    states = []
    for i in range(10, 200, 10):                          # batches of 10: the first one cannot fit whole
        sink.write([reading(j) for j in range(i, i + 10)])
        raw = path.read_bytes()
        states.append([len(raw), raw.endswith(b"\\n"), sink.pending])
    sink.flush()                                          # still full: nothing changes
    pending_full = sink.pending
    space_back()
    sink.write([reading(200)])                            # the next write drains everything, in order
    pending_after = sink.pending
    sink.close()
    print(json.dumps({"size_ok": size_ok, "states": states, "pending_full": pending_full,
                      "pending_after": pending_after}))
    """
    r = _run(script, tmp_path)
    # while full: the file never grew by a partial batch and always ended with a whole line
    for size, whole, pending in r["states"]:
        assert whole and size == r["size_ok"]
    assert [p for _, _, p in r["states"]] == list(range(10, 200, 10))
    assert r["pending_full"] == 190 and r["pending_after"] == 0
    # one clear error (not one per write), naming the directory and the cause, and the recovery
    errors = [line for line in r["stderr"].splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, r["stderr"]
    assert "cannot write to" in errors[0] and "File too large" in errors[0] and "in memory" in errors[0]
    assert "works again" in r["stderr"]
    rows = _rows(tmp_path / "data" / "20261122.csv")
    assert [int(row[4]) for row in rows] == [1000 + i for i in range(201)]  # every row once, in order


def test_disk_full_memory_queue_is_bounded_and_counts_what_it_drops(tmp_path):
    script = COMMON + """
    csv_sink.PENDING_LIMIT = 50
    sink = CsvSink(root / "data", "%Y%m%d.csv", TZ)
    sink.write([reading(0)])
    full((root / "data" / "20261122.csv").stat().st_size)  # not a single byte more
    for i in range(1, 121):
        sink.write([reading(i)])
    pending_full = sink.pending
    space_back()
    sink.flush()
    sink.close()
    print(json.dumps({"pending_full": pending_full}))
    """
    r = _run(script, tmp_path)
    assert r["pending_full"] == 50
    assert "70 rows dropped so far" in r["stderr"]  # loud, with the count
    rows = _rows(tmp_path / "data" / "20261122.csv")
    # the newest 50 are kept (the oldest are dropped), in order, after the row written before
    assert [int(row[4]) - 1000 for row in rows] == [0, *range(71, 121)]


def test_disk_full_before_the_header_of_a_new_day_leaves_no_headless_file(tmp_path):
    script = COMMON + """
    sink = CsvSink(root / "data", "%Y%m%d.csv", TZ)
    sink.write([reading(0)])
    full(0)                                                 # cannot even start tomorrow's file
    tomorrow = T0 + timedelta(days=1)
    sink.write([Reading(tomorrow, "smartmeter", "E7", "", Decimal(5))])
    size_full = (root / "data" / "20261123.csv").stat().st_size if (root / "data" / "20261123.csv").exists() else -1
    space_back()
    sink.flush()
    sink.close()
    print(json.dumps({"size_full": size_full}))
    """
    r = _run(script, tmp_path)
    assert r["size_full"] in (-1, 0)  # no header-only or half header file
    assert [row[4] for row in _rows(tmp_path / "data" / "20261123.csv")] == ["5"]


def test_spool_full_keeps_points_in_memory_then_spools_them_in_order(tmp_path):
    """The InfluxDB sink's spool under the same limit (InfluxDB itself unreachable: nothing is mocked)."""
    script = COMMON + """
    from logger.clock import RealClock
    from logger.config import InfluxSettings
    from logger.secrets import Secret
    from logger.sinks.influx_sink import InfluxSink
    from logger.sinks.spool import Spool

    settings = InfluxSettings(enabled=True, url="http://127.0.0.1:9", token=Secret("t" * 20), org="o",
                              bucket="b", batch_size=10_000, flush_interval_s=3600, spool_dir=root / "spool")
    sink = InfluxSink(settings, root / "spool", RealClock())
    sink.write([reading(0)])
    seg = next((root / "spool").glob("*.lp"))
    full(seg.stat().st_size + 30)
    raised = None
    try:
        for i in range(1, 41):
            sink.write([reading(i)])
    except OSError as exc:
        raised = str(exc)
    unspooled = sink.unspooled
    seg_whole = seg.read_bytes().endswith(b"\\n")
    space_back()
    sink.pump(0.0)                                      # spools the waiting points (sending waits)
    after = sink.unspooled
    sink._spool.close()
    lines = Spool(root / "spool").peek(10**6).lines
    print(json.dumps({"raised": raised, "unspooled": unspooled, "after": after, "seg_whole": seg_whole,
                      "values": [line.split("value=")[1].split()[0] for line in lines]}))
    """
    r = _run(script, tmp_path)
    assert r["raised"] is None  # write() does not raise: the runner would lose the batch otherwise
    assert r["unspooled"] == 40 and r["after"] == 0 and r["seg_whole"]
    assert [float(v) for v in r["values"]] == [1000.0 + i for i in range(41)]
    errors = [line for line in r["stderr"].splitlines() if line.startswith("ERROR") and "spool" in line]
    assert len(errors) == 1 and "in memory" in errors[0]


def test_data_directory_replaced_by_a_file(tmp_path, caplog):
    """An unusable directory (here: a regular file in its place) is reported once; rows wait and follow."""
    data = tmp_path / "data"
    data.write_text("not a directory")
    sink = CsvSink(data, "%Y%m%d.csv", TZ)
    t0 = datetime(2026, 11, 22, 10, 0, tzinfo=TZ)
    with caplog.at_level(logging.ERROR, logger=csv_sink.__name__):
        for i in range(5):
            sink.write([Reading(t0 + timedelta(seconds=i), "smartmeter", "E7", "", Decimal(i))])
            sink.flush()
    assert sink.pending == 5
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and str(data) in errors[0].getMessage() and "in memory" in errors[0].getMessage()
    data.unlink()  # the administrator fixes it
    sink.flush()
    assert sink.pending == 0
    sink.close()
    rows = _rows(data / "20261122.csv")
    assert [r[4] for r in rows] == ["0", "1", "2", "3", "4"]
    assert os.stat(data).st_mode & 0o777 == csv_sink.DIR_MODE
    assert os.stat(data / "20261122.csv").st_mode & 0o777 == csv_sink.FILE_MODE


def test_data_directory_removed_while_a_file_is_open(tmp_path):
    """rm -rf of the data directory while running: later rows are not written into the unlinked file."""
    import shutil

    data = tmp_path / "data"
    sink = CsvSink(data, "%Y%m%d.csv", TZ)
    t0 = datetime(2026, 11, 22, 10, 0, tzinfo=TZ)
    sink.write([Reading(t0, "smartmeter", "E7", "", Decimal(1))])
    shutil.rmtree(data)
    data.write_text("in the way")  # and something else took its place
    sink.write([Reading(t0 + timedelta(seconds=1), "smartmeter", "E7", "", Decimal(2))])
    assert sink.pending == 1  # kept, not written into the deleted file
    data.unlink()
    sink.flush()
    assert sink.pending == 0
    sink.close()
    assert [r[4] for r in _rows(data / "20261122.csv")] == ["2"]  # a new file, with its header
