"""`smartmeter-logger import` against the REAL influxd (fixture ``influxdb``)."""

import argparse
import csv
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from logger.commands import importer
from logger.readings import Reading
from logger.sinks.csv_sink import CsvSink

pytestmark = pytest.mark.integration
TOKYO = ZoneInfo("Asia/Tokyo")


def run_import(influxdb, bucket, files, monkeypatch, tmp_path) -> int:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INFLUXDB_TOKEN", influxdb.token)  # the token comes from the environment
    p = argparse.ArgumentParser()
    importer.configure(p)
    args = p.parse_args(["--url", influxdb.url, "--org", influxdb.org, "--bucket", bucket, "--batch-size", "1000",
                         *map(str, files)])
    return importer.main(args)


def test_import_of_a_few_days_equals_the_rows_and_is_idempotent(influxdb, bucket, tmp_path, monkeypatch, capsys):
    sink = CsvSink(tmp_path / "data", "%Y%m%d-smartmeter.csv", TOKYO)
    start = datetime(2026, 11, 20, 0, 0, tzinfo=TOKYO)
    for i in range(3 * 24 * 12):  # three days, every 5 minutes
        t = start + timedelta(minutes=5 * i)
        sink.write([Reading(t, "smartmeter", "E7", "", Decimal(500 + i % 300)),
                    Reading(t, "smartmeter", "E8", "R", Decimal(i % 50) / 10),
                    Reading(t, "smartmeter", "E0", "", Decimal("12345.6") + i)])
    sink.close()
    files = sorted((tmp_path / "data").glob("*.csv"))
    assert len(files) == 3
    rows = [row for f in files for row in list(csv.reader(open(f)))[1:]]

    assert run_import(influxdb, bucket, files, monkeypatch, tmp_path) == 0
    assert run_import(influxdb, bucket, files, monkeypatch, tmp_path) == 0  # re-run overwrites
    err = capsys.readouterr().err
    assert influxdb.token not in err

    got = influxdb.query(f'from(bucket: "{bucket}") |> range(start: 0, stop: 2100-01-01T00:00:00Z) '
                         '|> filter(fn: (r) => r._measurement == "smartmeter")')
    stored = {(r["_time"], r["unitid"], r["epc"], r.get("dataid") or "", r["_value"]) for r in got}
    want = {(datetime.fromisoformat(ts).astimezone(timezone.utc), u, e, d, float(v)) for ts, u, e, d, v in rows}
    assert len(got) == len(rows)
    assert stored == want
