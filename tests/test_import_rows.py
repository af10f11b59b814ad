import argparse
import io
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from logger.commands import importer
from logger.readings import Reading
from logger.sinks.csv_sink import CsvSink
from logger.sinks.points import to_line

TOKYO = ZoneInfo("Asia/Tokyo")


def parse(argv):
    p = argparse.ArgumentParser()
    importer.configure(p)
    return p.parse_args(argv)


def test_import_lines_equal_the_live_sink_lines(tmp_path):
    readings = [
        Reading(datetime(2026, 11, 22, 10, 30, tzinfo=TOKYO), "smartmeter", "E7", "", Decimal("1962")),
        Reading(datetime(2026, 11, 22, 10, 30, tzinfo=TOKYO), "smartmeter", "E8", "R", Decimal("12.5")),
        Reading(datetime(2026, 11, 22, 10, 30, tzinfo=TOKYO), "smartmeter", "EC", "normal", Decimal("3871.2")),
        Reading(datetime(2026, 11, 22, 10, 30, tzinfo=TOKYO), "smartmeter", "E7", "", Decimal("-3")),
    ]
    sink = CsvSink(tmp_path, "%Y%m%d.csv", TOKYO)
    sink.write(readings)
    sink.close()
    import csv

    rows = list(csv.reader(open(tmp_path / "20261122.csv")))[1:]
    conv = importer.RowConverter()
    assert [conv.line(row) for row in rows] == [to_line(r) for r in readings]


@pytest.mark.parametrize("row,reason", [
    (["2026-11-22T10:30:00.000+09:00", "smartmeter", "E7", ""], "expected 5 columns"),
    (["yesterday", "smartmeter", "E7", "", "1"], "bad timestamp"),
    (["2026-11-22T10:30:00.000", "smartmeter", "E7", "", "1"], "no UTC offset"),
    (["2026-11-22T10:30:00.000+09:00", "smartmeter", "E7", "", "lots"], "bad value"),
    (["2026-11-22T10:30:00.000+09:00", "smartmeter", "E7", "", "nan"], "not a finite number"),
    (["2026-11-22T10:30:00.000+09:00", "", "E7", "", "1"], "must not be empty"),
])
def test_bad_rows(row, reason):
    with pytest.raises(ValueError, match=reason):
        importer.RowConverter().line(row)


def test_dry_run_counts_and_reports_bad_rows_with_file_and_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("INFLUXDB_URL", "INFLUXDB_TOKEN", "INFLUXDB_ORG", "INFLUXDB_BUCKET"):
        monkeypatch.delenv(var, raising=False)
    good = tmp_path / "a.csv"
    good.write_text("timestamp,unitid,epc,dataid,value\n2026-11-22T10:30:00.000+09:00,smartmeter,E7,,5\n")
    headerless = tmp_path / "b.csv"
    headerless.write_text("2026-11-22T10:30:10.000+09:00,smartmeter,E7,,6\n"
                          "2026-11-22T10:30:20.000+09:00,smartmeter,E7,,six\n"
                          "2026-11-22T10:30:30.000+09:00,smartmeter,E8,R,1.5\n")
    assert importer.main(parse(["--dry-run", str(good), str(headerless)])) == 0
    err = capsys.readouterr().err
    assert f"{headerless}:2: bad value 'six'; row skipped" in err
    assert "3 rows from 2 files, 1 bad rows skipped" in err


def test_missing_influxdb_settings_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("INFLUXDB_URL", "INFLUXDB_TOKEN", "INFLUXDB_ORG", "INFLUXDB_BUCKET"):
        monkeypatch.delenv(var, raising=False)
    f = tmp_path / "a.csv"
    f.write_text("2026-11-22T10:30:00.000+09:00,smartmeter,E7,,5\n")
    assert importer.main(parse([str(f)])) == 2
    assert "--url" in capsys.readouterr().err


def test_unreadable_file_fails(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert importer.main(parse(["--dry-run", str(tmp_path / "missing.csv")])) == 1
    assert "cannot read" in capsys.readouterr().err


def test_progress_lines_when_not_a_tty():
    stream = io.StringIO()
    ticks = iter([0.0, 1.0, 6.0, 7.0])
    progress = importer.Progress(stream, clock=lambda: next(ticks))
    progress.update("a.csv", 10)  # 1 s: too soon
    progress.update("a.csv", 60)  # 6 s: a line
    progress.update("a.csv", 70)  # 7 s: too soon
    progress.done()
    assert stream.getvalue() == "import: a.csv: 60 rows (10 rows/s)\n"
