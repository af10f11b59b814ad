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


def _three_days(tmp_path):
    sink = CsvSink(tmp_path / "data", "%Y%m%d-smartmeter.csv", TOKYO)
    start = datetime(2026, 11, 20, 0, 0, tzinfo=TOKYO)
    for i in range(3 * 24 * 60):  # three days, every minute
        sink.write([Reading(start + timedelta(minutes=i), "smartmeter", "E7", "", Decimal(500 + i % 300))])
    sink.close()
    return sorted((tmp_path / "data").glob("*.csv"))


def test_a_batch_failing_while_influxd_is_down_is_retried_not_dropped(influxdb, bucket, tmp_path, monkeypatch,
                                                                     capsys):
    import threading
    import time

    files = _three_days(tmp_path)
    influxdb.stop()
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault(
        "code", run_import(influxdb, bucket, files, monkeypatch, tmp_path)))
    try:
        worker.start()
        time.sleep(1.5)  # the first attempts fail (connection refused) and are retried after 1 s, 2 s, 4 s, ...
    finally:
        influxdb.start()
    worker.join(60)
    assert result == {"code": 0}
    err = capsys.readouterr().err
    assert "unreachable" in err and "retrying in" in err
    assert influxdb.count(bucket) == 3 * 24 * 60


def test_refused_write_stops_and_names_what_was_not_written(influxdb, bucket, tmp_path, monkeypatch, capsys):
    files = _three_days(tmp_path)
    read_only = influxdb.create_token("import read only", [("read", bucket)])
    monkeypatch.chdir(tmp_path)
    p = argparse.ArgumentParser()
    importer.configure(p)
    args = p.parse_args(["--url", influxdb.url, "--org", influxdb.org, "--bucket", bucket, "--token", read_only,
                         "--batch-size", "1000", *map(str, files)])
    assert importer.main(args) == 1
    err = capsys.readouterr().err
    assert "HTTP 401" in err or "HTTP 403" in err
    assert "write permission" in err and read_only not in err
    for f in files:  # nothing was written, and the message says so for every file
        assert f"{f} (whole file)" in err
    assert "run the import again" in err
    assert influxdb.count(bucket) == 0


def test_rejected_points_stop_the_import_with_influxdbs_reason(influxdb, bucket, tmp_path, monkeypatch, capsys):
    import urllib.request

    files = _three_days(tmp_path)
    # Another writer stored `value` as an integer in the same shard: InfluxDB rejects our float points (HTTP 422).
    ms = int(datetime(2026, 11, 21, 12, 0, tzinfo=TOKYO).timestamp() * 1000)  # a row of the second file
    req = urllib.request.Request(f"{influxdb.url}/api/v2/write?org={influxdb.org}&bucket={bucket}&precision=ms",
                                 data=f"smartmeter,epc=E7,unitid=smartmeter value=1i {ms}".encode(), method="POST",
                                 headers={"Authorization": f"Token {influxdb.token}"})
    assert urllib.request.urlopen(req).status == 204
    assert run_import(influxdb, bucket, files, monkeypatch, tmp_path) == 1
    err = capsys.readouterr().err
    assert "HTTP 422" in err and "field type conflict" in err
    assert "not written (or not certainly): " in err and str(files[0]) in err
