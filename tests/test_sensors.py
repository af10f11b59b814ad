"""Extra serial sensors: line formats, and rows in the same daily CSV through a real pty."""

from __future__ import annotations

import csv
import os
import threading
import time
import tty
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from logger.config import ConfigError, load_settings
from logger.sensors import SensorLineParser, SensorSettings, parse_sensors
from logger.simulate.embedded import virtual_app

TZ = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 11, 22, 9, 0, 5, tzinfo=TZ).timestamp()


def test_default_format_is_sensorid_comma_value():
    p = SensorLineParser(SensorSettings("/dev/null", "arduino"))
    assert p.feed(b"temp1,23.5\r\nhum, 41\n") == [("temp1", Decimal("23.5")), ("hum", Decimal("41"))]
    assert p.dropped == 0


def test_lines_split_across_reads_and_garbage_is_counted_not_fatal():
    p = SensorLineParser(SensorSettings("/dev/null", "arduino"))
    assert p.feed(b"te") == []
    assert p.feed(b"mp1,-1.25\nnot a reading\n\xff\xfe\n") == [("temp1", Decimal("-1.25"))]
    assert p.dropped == 2
    assert p.feed(b"temp1,NaN\ntemp1,2e3\n") == [("temp1", Decimal("2E+3"))]
    assert p.dropped == 3
    assert p.feed(b"x" * 5000) == [] and p.dropped == 4  # an endless line is dropped, bounded memory
    assert p.feed(b"\nok,1\n") == [("ok", Decimal("1"))]


def test_regex_format_with_fixed_or_captured_sensor_id():
    twelite = SensorSettings("/dev/null", "twelite", regex=r";(?P<sensorid>[0-9A-F]{8});(?P<value>-?[0-9.]+);")
    assert SensorLineParser(twelite).feed(b";810A2B3C;21.7;\n") == [("810A2B3C", Decimal("21.7"))]
    fixed = SensorSettings("/dev/null", "kitchen", regex=r"T=(?P<value>-?[0-9.]+)C", sensorid="temp")
    assert SensorLineParser(fixed).feed(b"T=19.0C\nT=oops\n") == [("temp", Decimal("19.0"))]


def test_settings_validation_names_the_key(tmp_path):
    assert parse_sensors(None) == ()
    cfg = tmp_path / "s.yml"
    cfg.write_text("sensors:\n  - {port: /dev/ttyACM0, unitid: arduino, baudrate: 9600}\n")
    s = load_settings(cfg, env={}, dotenv=None, check_dirs=False)
    assert s.sensors == (SensorSettings("/dev/ttyACM0", "arduino", 9600),)
    assert s.redacted()["sensors"][0]["unitid"] == "arduino"
    cfg.write_text("sensors:\n  - {port: /dev/ttyACM0}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={}, dotenv=None, check_dirs=False)
    assert info.value.key == "sensors[0].unitid"


def test_sensor_lines_on_a_pty_become_rows_of_the_daily_csv_beside_the_meter(tmp_path):
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    try:
        yaml = f"sensors:\n  - {{port: '{path}', unitid: arduino, baudrate: 9600}}\n"
        app = virtual_app(tmp_path, START, settings_yaml=yaml)
        sensor = app.runner.sensors[0]

        def feed() -> None:  # the port is opened (and its input flushed) by the logger's first loop
            deadline = time.monotonic() + 30
            while sensor._ser is None and time.monotonic() < deadline:
                time.sleep(0.01)
            os.write(master, b"temp1,23.5\r\ngarbage\r\nhum,41\r\n")

        writer = threading.Thread(target=feed)
        writer.start()
        app.run(until=START + 6 * 3600)
        writer.join()
    finally:
        os.close(master)
        os.close(slave)
    files = sorted((tmp_path / "data").iterdir())
    assert len(files) == 1
    with files[0].open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["timestamp", "unitid", "epc", "dataid", "value"]
    sensor_rows = [r for r in rows[1:] if r[1] == "arduino"]
    assert [(r[2], r[3], r[4]) for r in sensor_rows] == [("temp1", "", "23.5"), ("hum", "", "41")]
    assert sensor_rows[0][0].startswith("2026-11-22T") and sensor_rows[0][0].endswith("+09:00")
    assert any(r[1] == "smartmeter" and r[2] == "E7" for r in rows[1:])  # the meter keeps flowing
    assert app.runner.sensors[0].parser.dropped == 1


def test_a_missing_sensor_device_does_not_stop_the_logger(tmp_path, caplog):
    yaml = "sensors:\n  - {port: /dev/does-not-exist-sensor, unitid: arduino}\n"
    app = virtual_app(tmp_path, START, settings_yaml=yaml)
    app.run(until=START + 120)
    assert app.runner.recorded > 0
    assert "sensor arduino" in caplog.text and "does not exist" in caplog.text
