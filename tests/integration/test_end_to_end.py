"""The whole chain on real programs: simulated dongle + meter → the logger (exactly what ``run``
builds, virtual clock, across a local midnight) → daily CSV → the REAL Telegraf → the REAL
influxd; the same readings written directly by the logger's InfluxDB sink into a second bucket;
and the CSV files ``import``-ed into a third. All three equal the CSV rows exactly."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from services import wait_until
from test_telegraf_pipeline import csv_points, influx_points, wait_count

from logger.simulate.embedded import virtual_app
from logger.simulate.meter import MeterConfig

JST = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 10, 21, 23, 20, 5, tzinfo=JST).timestamp()  # 40 simulated minutes before midnight
END = START + 80 * 60


def test_simulator_logger_csv_telegraf_influxd_equal_direct_writes_and_import(influxdb, tmp_path, telegraf_factory):
    tail_bucket = influxdb.create_bucket("e2e-tail")
    direct_bucket = influxdb.create_bucket("e2e-direct")
    import_bucket = influxdb.create_bucket("e2e-import")
    env = {"INFLUXDB_ENABLED": "true", "INFLUXDB_URL": influxdb.url, "INFLUXDB_TOKEN": influxdb.token,
           "INFLUXDB_ORG": influxdb.org, "INFLUXDB_BUCKET": direct_bucket}
    app = virtual_app(tmp_path, START, "bp35c0", meter=MeterConfig(notify="infc", solar_w=1500), env=env)
    app.run(until=END)
    data = tmp_path / "data"
    assert sorted(p.name for p in data.iterdir()) == ["20261021-smartmeter.csv", "20261022-smartmeter.csv"]
    expected = csv_points(data)
    assert len(expected) > 500
    assert {p[2] for p in expected} >= {"E7", "E8", "E0", "E3", "EA", "EB", "D3", "D7", "E1"}

    # direct path: the sink delivered everything (its spool is empty) and the series equal the CSV
    sink = next(s for s in app.sinks if type(s).__name__ == "InfluxSink")
    assert sink.pending_bytes == 0
    assert set(influx_points(influxdb, direct_bucket)) == expected

    # Telegraf path: the project's telegraf.conf tails the same daily files
    state = tmp_path / "telegraf-state"
    state.mkdir()
    tg = telegraf_factory(tail_bucket, data, state)
    tg.start()
    assert wait_count(influxdb, tail_bucket, len(expected), tg) == len(expected)
    tail = influx_points(influxdb, tail_bucket)
    assert len(tail) == len(expected) and set(tail) == expected
    assert tg.stop() == 0

    # import of the same files: the same series again
    files = sorted(str(p) for p in data.glob("*.csv"))
    r = subprocess.run([sys.executable, "-m", "logger", "import", *files, "--url", influxdb.url, "--token",
                        influxdb.token, "--org", influxdb.org, "--bucket", import_bucket],
                       capture_output=True, text=True, cwd=tmp_path, check=False)
    assert r.returncode == 0, r.stderr
    assert influxdb.token not in r.stdout + r.stderr
    wait_until(lambda: influxdb.count(import_bucket) >= len(expected), timeout=60)
    assert set(influx_points(influxdb, import_bucket)) == expected
    assert Path(tmp_path / "state" / "scan.json").is_file()
