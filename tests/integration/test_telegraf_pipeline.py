"""CSV files -> the REAL Telegraf (project telegraf.conf, compose env) -> the REAL influxd.

The rows are written by the logger's own CsvSink (daily files, header in each file), spanning a
local midnight. Every assertion compares the points InfluxDB holds with the CSV rows exactly.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from logger.readings import Reading
from logger.sinks.csv_sink import CsvSink

from services import InfluxD, wait_until

JST = ZoneInfo("Asia/Tokyo")
FILENAME = "%Y%m%d-smartmeter.csv"  # the settings default (csv.filename)
WAIT = 90.0  # bound for every poll; Telegraf flushes every 10 s


def readings(start: datetime, minutes: int, energy0: Decimal = Decimal("3871.2")) -> list[Reading]:
    """A realistic minute-by-minute mix: E7 (W, sometimes negative = export), E8 R/T (A), E0/E3
    cumulative kWh, EA/EB every 30 minutes, and the context rows D3/E1."""
    out: list[Reading] = []
    energy, export = energy0, Decimal("120.4")
    for i in range(minutes):
        t = start + timedelta(minutes=i)
        power = Decimal(1374 + 37 * (i % 11) - (2500 if i % 17 == 5 else 0))
        out.append(Reading(t, "smartmeter", "E7", "", power))
        out.append(Reading(t, "smartmeter", "E8", "R", Decimal("13.5") + Decimal(i % 7) / 10))
        out.append(Reading(t, "smartmeter", "E8", "T", Decimal(4 + i % 3)))
        energy += Decimal("0.1") if i % 3 else Decimal("0.0")
        export += Decimal("0.1") if i % 17 == 5 else Decimal("0")
        out.append(Reading(t, "smartmeter", "E0", "", energy))
        out.append(Reading(t, "smartmeter", "E3", "", export))
        if t.minute in (0, 30):
            out.append(Reading(t, "smartmeter", "EA", "", energy))
            out.append(Reading(t, "smartmeter", "EB", "", export))
        if i == 0:
            out.append(Reading(t, "smartmeter", "D3", "", Decimal(1)))
            out.append(Reading(t, "smartmeter", "E1", "", Decimal("0.1")))
    return out


def write_csv(directory: Path, rows: list[Reading]) -> None:
    sink = CsvSink(directory, FILENAME, JST)
    sink.write(rows)
    sink.flush()
    sink.close()


def csv_points(directory: Path) -> set[tuple[datetime, str, str, str, float]]:
    """Every data row of every daily file, as (time, unitid, epc, dataid, value)."""
    points = set()
    for path in sorted(directory.glob("*.csv")):
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["timestamp", "unitid", "epc", "dataid", "value"], f"{path.name} has no header row"
        for ts, unitid, epc, dataid, value in rows[1:]:
            points.add((datetime.fromisoformat(ts), unitid, epc, dataid, float(value)))
    return points


STANDARD_COLUMNS = {"result", "table", "_start", "_stop", "_time", "_value", "_field", "_measurement"}


def influx_points(influxdb: InfluxD, bucket: str) -> list[tuple[datetime, str, str, str, float]]:
    records = influxdb.query(f'from(bucket: "{bucket}") |> range(start: 0, stop: 2100-01-01T00:00:00Z)')
    out = []
    for r in records:
        assert r["_measurement"] == "smartmeter"
        assert r["_field"] == "value"
        assert isinstance(r["_value"], float), f"value stored as {type(r['_value']).__name__}"
        tags = set(r) - STANDARD_COLUMNS
        assert tags <= {"unitid", "epc", "dataid"}, f"unexpected tags {tags - {'unitid', 'epc', 'dataid'}}"
        if "dataid" in r:
            assert r["dataid"], "an empty dataid must not become a tag"
        out.append((r["_time"], r["unitid"], r["epc"], r.get("dataid") or "", r["_value"]))
    return out


def wait_count(influxdb: InfluxD, bucket: str, n: int, tg=None) -> int:
    def done():
        if tg is not None and not tg.running:
            raise AssertionError(f"telegraf exited:\n{tg.log()[-3000:]}")
        return influxdb.count(bucket) >= n

    wait_until(done, timeout=WAIT, interval=0.5)
    return influxdb.count(bucket)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    data, state = tmp_path / "data", tmp_path / "telegraf-state"
    data.mkdir()
    state.mkdir()
    return data, state


def test_rows_across_midnight_arrive_exactly(influxdb, bucket, dirs, telegraf_factory):
    data, state = dirs
    rows = readings(datetime(2026, 10, 21, 23, 20, tzinfo=JST), 70)  # 23:20 .. 00:29 JST
    write_csv(data, rows)
    assert sorted(p.name for p in data.iterdir()) == ["20261021-smartmeter.csv", "20261022-smartmeter.csv"]
    expected = csv_points(data)
    assert len(expected) == len(rows)

    tg = telegraf_factory(bucket, data, state)
    tg.start()
    assert wait_count(influxdb, bucket, len(expected), tg) == len(expected)
    got = influx_points(influxdb, bucket)
    assert len(got) == len(expected)
    assert set(got) == expected
    # the two E8 phases and the energy rows keep their identities
    assert {(p[2], p[3]) for p in got} == {("E7", ""), ("E8", "R"), ("E8", "T"), ("E0", ""), ("E3", ""),
                                          ("EA", ""), ("EB", ""), ("D3", ""), ("E1", "")}
    # one series per (epc, dataid): no per-file "path" tag, no "host" tag
    series = influxdb.query(
        f'import "influxdata/influxdb/schema"\nschema.tagKeys(bucket: "{bucket}", start: 0)'
    )
    assert {r["_value"] for r in series} - {"_start", "_stop"} == {"_measurement", "_field", "unitid", "epc", "dataid"}
    assert tg.stop() == 0


def test_new_daily_file_while_running_is_read_from_its_first_row(influxdb, bucket, dirs, telegraf_factory):
    data, state = dirs
    first = readings(datetime(2026, 10, 22, 23, 50, tzinfo=JST), 10)
    write_csv(data, first)
    tg = telegraf_factory(bucket, data, state)
    tg.start()
    assert wait_count(influxdb, bucket, len(first), tg) == len(first)
    # midnight: the logger creates tomorrow's file (header + rows) while Telegraf runs
    second = readings(datetime(2026, 10, 23, 0, 0, tzinfo=JST), 5, energy0=Decimal("3880"))
    write_csv(data, second)
    assert (data / "20261023-smartmeter.csv").exists()
    total = len(first) + len(second)
    assert wait_count(influxdb, bucket, total, tg) == total
    assert set(influx_points(influxdb, bucket)) == csv_points(data)


def test_restart_mid_day_loses_nothing_and_resends_nothing(influxdb, bucket, dirs, telegraf_factory):
    data, state = dirs
    day = datetime(2026, 10, 24, 10, 0, tzinfo=JST)
    part1 = readings(day, 20)
    write_csv(data, part1)
    tg = telegraf_factory(bucket, data, state)
    tg.start()
    assert wait_count(influxdb, bucket, len(part1), tg) == len(part1)
    assert tg.stop() == 0  # SIGTERM: clean stop
    assert (state / "telegraf.state").is_file(), "a clean stop must persist the tail offsets"

    # Wipe what InfluxDB holds: a restart that re-read the file from the beginning would bring
    # part 1 back; one that lost the first row after its saved offset (telegraf#13317) would
    # come up one short.
    influxdb.api("POST", f"/api/v2/delete?org={influxdb.org}&bucket={bucket}",
                 {"start": "1970-01-01T00:00:00Z", "stop": "2100-01-01T00:00:00Z"})
    assert influxdb.count(bucket) == 0

    part2 = readings(day + timedelta(minutes=20), 20, energy0=Decimal("3900"))
    write_csv(data, part2)  # appended to the same daily file
    assert len(list(data.iterdir())) == 1
    tg2 = telegraf_factory(bucket, data, state, name="telegraf-2")
    tg2.start()
    assert wait_count(influxdb, bucket, len(part2), tg2) == len(part2)
    got = influx_points(influxdb, bucket)
    expected2 = {(r.timestamp, r.unitid, r.epc, r.dataid, float(r.value)) for r in part2}
    assert set(got) == expected2
    assert len(got) == len(part2)
    # Part 1 precedes part 2 in the file: had it been re-read it would be here by now.
    assert tg2.stop() == 0


def test_influxdb_outage_is_bridged_by_telegraf_buffer(influxdb, bucket, dirs, telegraf_factory):
    data, state = dirs
    day = datetime(2026, 10, 25, 23, 40, tzinfo=JST)
    before = readings(day, 10)
    write_csv(data, before)
    tg = telegraf_factory(bucket, data, state)
    tg.start()
    assert wait_count(influxdb, bucket, len(before), tg) == len(before)

    influxdb.stop()
    try:
        during = readings(day + timedelta(minutes=10), 30, energy0=Decimal("3872.5"))  # crosses midnight
        write_csv(data, during)
        # Telegraf tried to write while InfluxDB was down (its error names the output)
        assert wait_until(lambda: "E! [outputs.influxdb_v2]" in tg.log(), timeout=WAIT), tg.log()[-2000:]
        assert tg.running
    finally:
        influxdb.start()
    total = len(before) + len(during)
    assert wait_count(influxdb, bucket, total, tg) == total
    assert set(influx_points(influxdb, bucket)) == csv_points(data)


def test_rereading_identical_rows_does_not_double_count(influxdb, bucket, dirs, telegraf_factory):
    """A re-read (lost statefile, changed [[inputs.tail]] table) re-sends every row: InfluxDB keeps
    one point per series and time, so nothing is counted twice."""
    data, state = dirs
    rows = readings(datetime(2026, 10, 26, 12, 0, tzinfo=JST), 15)
    write_csv(data, rows)
    tg = telegraf_factory(bucket, data, state)
    tg.start()
    assert wait_count(influxdb, bucket, len(rows), tg) == len(rows)
    assert tg.stop() == 0
    (state / "telegraf.state").unlink()  # offsets lost: Telegraf reads the file again from line 1
    extra = readings(datetime(2026, 10, 26, 12, 15, tzinfo=JST), 2, energy0=Decimal("3872.4"))
    write_csv(data, extra)  # after the old rows: once these arrive, the re-read rows were sent too
    tg2 = telegraf_factory(bucket, data, state, name="telegraf-2")
    tg2.start()
    total = len(rows) + len(extra)
    assert wait_count(influxdb, bucket, total, tg2) == total
    assert set(influx_points(influxdb, bucket)) == csv_points(data)
    e0 = [r.value for r in rows + extra if r.epc == "E0"]
    used = influxdb.query(
        f'from(bucket: "{bucket}") |> range(start: 0, stop: 2100-01-01T00:00:00Z) |> filter(fn: (r) => r.epc == "E0") '
        '|> difference(nonNegative: true) |> sum()'
    )
    assert Decimal(str(used[0]["_value"])).quantize(Decimal("0.1")) == e0[-1] - e0[0]
    assert tg2.stop() == 0


def test_token_without_write_permission_is_reported(influxdb, bucket, dirs, telegraf_factory):
    """The troubleshooting entries in docs/deploy.md quote these errors."""
    data, state = dirs
    write_csv(data, readings(datetime(2026, 10, 27, 8, 0, tzinfo=JST), 3))
    read_only = influxdb.create_token("read only", [("read", bucket)])
    tg = telegraf_factory(bucket, data, state, token=read_only)
    tg.start()
    assert wait_until(lambda: "E! [outputs.influxdb_v2]" in tg.log(), timeout=WAIT), tg.log()[-2000:]
    log = tg.log()
    assert "(403 Forbidden): forbidden: insufficient permissions for write" in log, log[-2000:]
    assert read_only not in log  # the token never appears in Telegraf's log
    assert tg.stop() == 0
    # a token InfluxDB does not know at all
    bogus = "not-a-token-" + "x" * 40
    tg2 = telegraf_factory(bucket, data, tmp := state.parent / "state-2", token=bogus, name="telegraf-2")
    tmp.mkdir()
    tg2.start()
    assert wait_until(lambda: "E! [outputs.influxdb_v2]" in tg2.log(), timeout=WAIT), tg2.log()[-2000:]
    assert "(401 Unauthorized): unauthorized: unauthorized access" in tg2.log(), tg2.log()[-2000:]
    assert bogus not in tg2.log()
    assert influxdb.count(bucket) == 0
