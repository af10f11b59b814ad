"""`smartmeter-logger summary`: options, price, CSV output, errors and exit codes."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from logger.cli import main
from logger.readings import Reading
from logger.sinks.csv_sink import CsvSink

JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config/settings.yml, no .env
    for k in ("CSV_DIR", "UNIT_PRICE_JPY_PER_KWH", "LOGGER_UNITID", "LOGGER_TIMEZONE"):
        monkeypatch.delenv(k, raising=False)
    sink = CsvSink(tmp_path / "data", "%Y%m%d-smartmeter.csv", JST)
    start = datetime(2026, 11, 20, tzinfo=JST)
    rows, t, ea = [], start, Decimal("3871.2")
    while t <= start + timedelta(days=2):
        rows += [Reading(t, "smartmeter", "EA", "", ea), Reading(t, "smartmeter", "EB", "", Decimal("12.5"))]
        t += timedelta(minutes=30)
        ea += Decimal("0.3")
    sink.write(rows)
    sink.close()
    monkeypatch.setenv("CSV_DIR", str(tmp_path / "data"))
    return tmp_path


def test_table_with_price_and_total(data, capsys):
    assert main(["summary", "--from", "2026-11-20", "--to", "2026-11-21", "--price", "30.5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:5] == ["period", "bought", "kWh", "sold", "kWh"]
    assert out[1].split()[:6] == ["2026-11-20", "14.4", "0", "439.2", "EA/EB", "0/0"]
    assert out[2].split()[:4] == ["2026-11-21", "14.4", "0", "439.2"]
    assert out[3].split()[:4] == ["total", "28.8", "0", "878.4"]
    assert "30.5 JPY/kWh" in out[4]


def test_csv_output_and_price_from_env(data, capsys, monkeypatch):
    monkeypatch.setenv("UNIT_PRICE_JPY_PER_KWH", "31")
    assert main(["summary", "--csv", "--by", "halfhour", "--to", "2026-11-20"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 48
    assert rows[0]["period"] == "2026-11-20T00:00+09:00" and rows[0]["end"] == "2026-11-20T00:30:00+09:00"
    assert {(r["bought_kwh"], r["cost_jpy"], r["bought_missing_halfhours"]) for r in rows} == {("0.3", "9.3", "0")}


def test_price_from_dotenv(data, capsys):
    (data / ".env").write_text("UNIT_PRICE_JPY_PER_KWH=40\n")
    assert main(["summary", "--csv", "--by", "month", "--from", "2026-11", "--to", "2026-11"]) == 0
    (row,) = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert (row["period"], row["bought_kwh"], row["cost_jpy"]) == ("2026-11", "28.8", "1152")


def test_no_price_no_cost_column(data, capsys):
    assert main(["summary", "--to", "2026-11-20", "--from", "2026-11-20"]) == 0
    assert "cost" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--from", "20-11-2026"], 2, "'20-11-2026' is not a date"),
        (["--price", "abc"], 2, "--price: 'abc' is not a number"),
        (["--price", "-1"], 2, "must be a number >= 0"),
        (["--from", "2026-11-22", "--to", "2026-11-20"], 2, "is after"),
        (["--dir", "missing-dir"], 1, "CSV directory missing-dir does not exist"),
        (["--from", "2025-01-01", "--to", "2025-01-31"], 1, "no CSV files for 2025-01-01 .. 2025-01-31"),
        (["--unitid", "other"], 1, "no energy rows for unitid 'other'"),
    ],
)
def test_errors(data, capsys, argv, code, message):
    assert main(["summary", *argv]) == code
    assert message in capsys.readouterr().err


def test_malformed_rows_are_listed_and_counted(data, capsys):
    with open(data / "data" / "20261120-smartmeter.csv", "a") as f:
        f.write("2026-11-20T23:30:00.000+09:00,smartmeter,EA,,x\n")
    assert main(["summary", "--from", "2026-11-20", "--to", "2026-11-20"]) == 0
    err = capsys.readouterr().err
    assert "20261120-smartmeter.csv:98: bad value 'x'; row skipped" in err
    assert "1 malformed row(s)" in err


def test_halfhour_table_is_aligned_and_lists_no_future_halfhour(tmp_path, monkeypatch, capsys):
    """Today's half-hours: the header lines up with the labels, and half-hours that have not
    begun yet are not listed (they are not "missing" either)."""
    monkeypatch.chdir(tmp_path)
    for k in ("CSV_DIR", "UNIT_PRICE_JPY_PER_KWH", "LOGGER_UNITID", "LOGGER_TIMEZONE"):
        monkeypatch.delenv(k, raising=False)
    now = datetime.now(JST)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    sink = CsvSink(tmp_path / "data", "%Y%m%d-smartmeter.csv", JST)
    sink.write([Reading(today + timedelta(minutes=30 * i), "smartmeter", "EA", "", Decimal(100 + i))
                for i in range(int((now - today) / timedelta(minutes=30)) + 1)])
    sink.close()
    monkeypatch.setenv("CSV_DIR", str(tmp_path / "data"))
    assert main(["summary", "--by", "halfhour", "--from", today.date().isoformat(),
                 "--to", today.date().isoformat()]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[0], lines[1:-1]
    starts = [datetime.fromisoformat(r.split()[0]) for r in rows]
    assert starts and all(s <= now for s in starts)
    assert max(starts) > now - timedelta(minutes=30)
    # the second column's right edge is the same in the header and every row
    edge = header.index("bought kWh") + len("bought kWh")
    for r in rows:
        assert r[edge - 1] != " " and r[edge:edge + 2] == "  ", (header, r)
