"""InfluxSink against the REAL influxd (fixture ``influxdb``); nothing mocked."""

import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from logger.clock import VirtualClock
from logger.config import InfluxSettings
from logger.readings import Reading
from logger.secrets import Secret
from logger.sinks.influx_sink import BACKOFF_MAX_S, InfluxSink, InfluxWriteError, check_write_access

pytestmark = pytest.mark.integration
TOKYO = ZoneInfo("Asia/Tokyo")


def settings(influxdb, bucket: str, token: str | None = None, batch_size: int = 500) -> InfluxSettings:
    return InfluxSettings(enabled=True, url=influxdb.url, token=Secret(token or influxdb.token), org=influxdb.org,
                          bucket=bucket, batch_size=batch_size, flush_interval_s=5, spool_dir=Path("unused"))


def readings(n: int, start: datetime = datetime(2026, 11, 22, 10, 0, tzinfo=TOKYO)) -> list[Reading]:
    out = []
    for i in range(n):
        t = start + timedelta(seconds=10 * i)
        out.append(Reading(t, "smartmeter", "E7", "", Decimal(1000 + i)))
        out.append(Reading(t, "smartmeter", "E8", "R", Decimal(i) / 10))
    return out


def stored(influxdb, bucket: str) -> set[tuple]:
    rows = influxdb.query(f'from(bucket: "{bucket}") |> range(start: 0, stop: 2100-01-01T00:00:00Z) '
                          '|> filter(fn: (r) => r._measurement == "smartmeter")')
    return {(r["_time"], r["unitid"], r["epc"], r.get("dataid") or "", r["_field"], r["_value"]) for r in rows}


def expected(rs: list[Reading]) -> set[tuple]:
    return {(r.timestamp.astimezone(timezone.utc), r.unitid, r.epc, r.dataid, "value", float(r.value)) for r in rs}


def test_direct_write_then_query_equals_the_readings(influxdb, bucket, tmp_path):
    clock = VirtualClock(1_800_000_000.0)
    sink = InfluxSink(settings(influxdb, bucket, batch_size=7), tmp_path / "spool", clock)
    rs = readings(20)
    sink.write(rs)
    sink.pump(clock.time())  # full batches go at once
    clock.advance(5)
    sink.pump(clock.time())  # the rest after flush_interval
    assert sink.pending_bytes == 0
    sink.close(timeout_s=5)
    got = stored(influxdb, bucket)
    assert got == expected(rs)
    assert all(isinstance(v[5], float) for v in got)


def test_outage_spools_then_delivers_once(influxdb, bucket, tmp_path):
    clock = VirtualClock(1_800_000_000.0)
    sink = InfluxSink(settings(influxdb, bucket), tmp_path / "spool", clock)
    first = readings(5)
    sink.write(first)
    clock.advance(5)
    sink.pump(clock.time())
    assert sink.pending_bytes == 0

    influxdb.stop()
    try:
        later = readings(5, datetime(2026, 11, 22, 11, 0, tzinfo=TOKYO))
        sink.write(later)
        clock.advance(5)
        sink.pump(clock.time())
        assert sink.pending_bytes > 0
        sink.close(timeout_s=0)  # and the logger restarts meanwhile
    finally:
        influxdb.start()
    sink = InfluxSink(settings(influxdb, bucket), tmp_path / "spool", clock)
    clock.advance(BACKOFF_MAX_S)
    sink.pump(clock.time())
    assert sink.pending_bytes == 0
    sink.close(timeout_s=5)
    assert influxdb.count(bucket) == len(first) + len(later)
    assert stored(influxdb, bucket) == expected(first + later)


def test_redelivery_after_a_crash_overwrites(influxdb, bucket, tmp_path):
    clock = VirtualClock(1_800_000_000.0)
    rs = readings(10)
    for _ in range(2):  # the same points delivered twice, as after a crash before commit
        sink = InfluxSink(settings(influxdb, bucket), tmp_path / "spool", clock)
        sink.write(rs)
        clock.advance(5)
        sink.pump(clock.time())
        sink.close(timeout_s=5)
    assert influxdb.count(bucket) == len(rs)


def test_token_without_write_permission_keeps_the_spool(influxdb, bucket, tmp_path, caplog):
    read_only = influxdb.create_token("read only", [("read", bucket)])
    with pytest.raises(InfluxWriteError) as info:
        check_write_access(influxdb.url, read_only, influxdb.org, bucket)
    assert "write permission" in str(info.value) and read_only not in str(info.value)

    clock = VirtualClock(1_800_000_000.0)
    sink = InfluxSink(settings(influxdb, bucket, token=read_only), tmp_path / "spool", clock)
    sink.write(readings(3))
    clock.advance(5)
    with caplog.at_level(logging.ERROR):
        sink.pump(clock.time())
    assert sink.pending_bytes > 0
    assert "write permission" in caplog.text and read_only not in caplog.text
    sink.close(timeout_s=0)
    # fixed token: everything is delivered from the same spool
    sink = InfluxSink(settings(influxdb, bucket), tmp_path / "spool", clock)
    clock.advance(5)
    sink.pump(clock.time())
    assert sink.pending_bytes == 0
    sink.close(timeout_s=5)
    assert influxdb.count(bucket) == 6


def test_check_write_access_ok_and_missing_bucket(influxdb, bucket):
    assert "may write" in check_write_access(influxdb.url, influxdb.token, influxdb.org, bucket)
    with pytest.raises(InfluxWriteError) as info:
        check_write_access(influxdb.url, influxdb.token, influxdb.org, "no-such-bucket")
    assert "no-such-bucket" in str(info.value)
    assert influxdb.count(bucket) == 0  # the check stores nothing


def test_live_points_go_out_at_once_and_bursts_wait_for_the_interval(influxdb, bucket, tmp_path):
    clock = VirtualClock(1_800_000_000.0)
    sink = InfluxSink(settings(influxdb, bucket), tmp_path / "spool", clock)  # flush_interval_s 5, batch 500
    first = readings(1)
    sink.write(first)
    sink.pump(clock.time())  # the loop iteration that recorded it: sent at once
    assert sink.pending_bytes == 0
    assert stored(influxdb, bucket) == expected(first)

    clock.advance(1)  # a second small record 1 s after that request waits until the interval is over
    second = readings(1, datetime(2026, 11, 22, 10, 1, tzinfo=TOKYO))
    sink.write(second)
    sink.pump(clock.time())
    assert sink.pending_bytes > 0
    clock.advance(3.9)
    sink.pump(clock.time())
    assert sink.pending_bytes > 0
    clock.advance(0.1)
    sink.pump(clock.time())
    assert sink.pending_bytes == 0

    clock.advance(10)  # the next poll cycle (10 s later): at once again
    third = readings(1, datetime(2026, 11, 22, 10, 2, tzinfo=TOKYO))
    sink.write(third)
    sink.pump(clock.time())
    assert sink.pending_bytes == 0
    sink.close(timeout_s=5)
    assert stored(influxdb, bucket) == expected(first + second + third)

