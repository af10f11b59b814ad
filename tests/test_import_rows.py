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
    progress.update("a.csv", 10, file_no=1, files=2)  # 1 s: too soon
    progress.update("b.csv", 60, file_no=2, files=2)  # 6 s: a line
    progress.update("b.csv", 70, file_no=2, files=2)  # 7 s: too soon
    progress.done()
    line = stream.getvalue()
    assert line.count("\n") == 1
    # the count is a running total over all files, and says so (not a per-file count)
    assert "file 2/2 b.csv" in line and "60 rows read so far in all files" in line


def _lines_of(tmp_path, monkeypatch, text: str, block: int) -> tuple[list[str], str]:
    """Lines a dry run would build (via RowConverter.convert over blocks of ``block`` characters)."""
    import contextlib

    monkeypatch.setattr(importer, "_READ_BLOCK", block)
    f = tmp_path / f"x{block}.csv"
    f.write_bytes(text.encode())
    built: list[str] = []
    real = importer.RowConverter.convert

    def spy(self, texts, out, first_lineno):  # records what the real method appends
        bad = real(self, texts, out, first_lineno)
        built.extend(out[len(out) - (len(texts) - sum(1 for t in texts if not t) - len(bad)):])
        return bad

    monkeypatch.setattr(importer.RowConverter, "convert", spy)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert importer.main(parse(["--dry-run", str(f)])) == 0
    return built, err.getvalue()


@pytest.mark.parametrize("block", [1, 7, 50, 1 << 22])
def test_block_boundaries_crlf_quotes_and_bad_rows(tmp_path, monkeypatch, block):
    text = ("timestamp,unitid,epc,dataid,value\r\n"
            "2026-11-22T10:30:00.000+09:00,smartmeter,E7,,5\r\n"
            "\r\n"
            '2026-11-22T10:30:00.000+09:00,"smart meter,1",E8,R,1.5\n'
            "2026-11-22T10:30:10.000+09:00,smartmeter,E7,,x\n"
            "2026-11-22T10:30:10.000+09:00,smartmeter,E7,,7")  # no final line break
    built, err = _lines_of(tmp_path, monkeypatch, text, block)
    assert built == [
        "smartmeter,epc=E7,unitid=smartmeter value=5.0 1795311000000",
        "smartmeter,dataid=R,epc=E8,unitid=smart\\ meter\\,1 value=1.5 1795311000000",
        "smartmeter,epc=E7,unitid=smartmeter value=7.0 1795311010000",
    ]
    assert f"x{block}.csv:5: bad value 'x'; row skipped" in err
    assert "3 rows from 1 files, 1 bad rows skipped" in err


def test_convert_equals_one_row_at_a_time():
    texts = ["2026-11-22T10:30:00.000+09:00,smartmeter,E7,,5", "2026-11-22T10:30:00.000+09:00,smartmeter,E7,,5",
             "2026-11-22T10:30:00.000,smartmeter,E7,,5", "2026-11-22T10:30:01.000+09:00,smartmeter,E7,,1e3",
             "2026-11-22T10:30:01.000+09:00,smartmeter,E7,,inf", "2026-11-22T01:30:02.5Z,u,E0,,0.0001",
             "", "a,b"]
    one = importer.RowConverter()
    want, reasons = [], []
    for n, t in enumerate(texts, start=10):
        if not t:
            continue
        try:
            want.append(one.text(t))
        except ValueError as exc:
            reasons.append((n, str(exc)))
    out: list[str] = []
    assert importer.RowConverter().convert(texts, out, 10) == reasons
    assert out == want
    assert [n for n, _ in reasons] == [12, 14, 17]


def test_describe_spans_merges_and_names_whole_files():
    names = ["a.csv", "b.csv", "c.csv"]
    spans = [(0, 5001, 10000), (0, 1, 5000), (1, 20, 30), (0, 10001, importer._END), (2, 1, importer._END)]
    assert importer.describe_spans(spans, names, {0: 12265}) == ["a.csv (whole file)", "b.csv:20-30",
                                                                   "c.csv (whole file)"]
    assert importer.describe_spans([(0, 3, 12265)], names, {0: 12265}) == ["a.csv:3-end"]


def test_bad_url_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "a.csv"
    f.write_text("2026-11-22T10:30:00.000+09:00,smartmeter,E7,,5\n")
    assert importer.main(parse(["--url", "influxdb:8086", "--token", "t", "--org", "o", "--bucket", "b", str(f)])) == 2
    assert "http://host:8086" in capsys.readouterr().err
