"""Every Flux query of the Grafana dashboard (panels and variables) runs on the REAL influxd,
loaded through the REAL Telegraf from the logger's CSV files, and returns the right numbers.

Grafana cannot run here, so the queries are sent the way its Flux datasource sends them:
``${var}`` replaced by the dashboard variables, v.timeRangeStart/v.timeRangeStop/v.windowPeriod
by the time range. The dashboard is the one the grafana service renders at start (unit price
from .env.example).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from logger.readings import Reading
from logger.sinks.csv_sink import CsvSink

from services import Telegraf, grafana_flux, render_grafana_dashboards, require_binary, wait_until

JST = ZoneInfo("Asia/Tokyo")
STEP = timedelta(minutes=10)


def generate(now: datetime) -> list[Reading]:
    """From a day before the month (and at least three days) back, up to ``now``: E7/E8/E0/E3 every
    10 minutes plus one reading at ``now``; EA/EB on the half hours."""
    local = now.astimezone(JST)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = min(month_start, local - timedelta(days=3)) - timedelta(days=1)
    start = start.replace(minute=0, second=0, microsecond=0)
    times = []
    t = start
    while t < local:
        times.append(t)
        t += STEP
    if local.replace(microsecond=0) > times[-1]:  # not when "now" falls in the step's own second (13:20:00.4):
        times.append(local.replace(microsecond=0))  # influxd would keep one of the two rows per series
    out: list[Reading] = []
    e0, e3 = Decimal("3871.2"), Decimal("120.4")
    for i, t in enumerate(times):
        hour = t.hour
        sun = 10 <= hour < 14
        power = Decimal(-800 + 13 * (i % 7)) if sun and i % 3 == 0 else Decimal(300 + 97 * (i % 13))
        out += [Reading(t, "smartmeter", "E7", "", power),
                Reading(t, "smartmeter", "E8", "R", Decimal(i % 40) / 2),
                Reading(t, "smartmeter", "E8", "T", Decimal(i % 30) / 2)]
        if power > 0:
            e0 += Decimal("0.1") * (1 + i % 3)
        else:
            e3 += Decimal("0.1")
        out += [Reading(t, "smartmeter", "E0", "", e0), Reading(t, "smartmeter", "E3", "", e3)]
        if t.minute in (0, 30) and t.second == 0:
            out += [Reading(t, "smartmeter", "EA", "", e0), Reading(t, "smartmeter", "EB", "", e3)]
    return out


def usage_since(rows: list[Reading], epc: str, start: datetime) -> float:
    """The panel's arithmetic: non-negative differences of the counter from the last reading
    before ``start`` (within a day), counted when they end after ``start``."""
    pts = sorted((r.timestamp, float(r.value)) for r in rows if r.epc == epc and r.timestamp >= start - timedelta(days=1))
    return sum(b - a for (_, a), (tb, b) in zip(pts, pts[1:]) if tb > start and b >= a)


@pytest.fixture(scope="module")
def loaded(influxdb, tmp_path_factory, env_example):
    """A bucket holding ~a month of rows that went CSV -> Telegraf -> influxd."""
    # A day boundary between generating and querying would move "today": start clear of it.
    wait_until(lambda: (datetime.now(JST) + timedelta(minutes=3)).date() == datetime.now(JST).date(), timeout=200)
    now = datetime.now(timezone.utc)
    rows = generate(now)
    work = tmp_path_factory.mktemp("grafana")
    data, state = work / "data", work / "telegraf-state"
    data.mkdir()
    state.mkdir()
    sink = CsvSink(data, "%Y%m%d-smartmeter.csv", JST)
    sink.write(rows)
    sink.close()
    bucket = influxdb.create_bucket("grafana-dashboard")
    variables = {**env_example, "INFLUXDB_URL": influxdb.url, "INFLUXDB_TOKEN": influxdb.token,
                 "INFLUXDB_ORG": influxdb.org, "INFLUXDB_BUCKET": bucket}
    tg = Telegraf(require_binary("TELEGRAF_BIN"), work / "telegraf", variables,
                  mounts={"/data": data, "/var/lib/telegraf": state})
    tg.start()
    try:
        wait_until(lambda: not tg.running or influxdb.count(bucket) >= len(rows), timeout=180, interval=1)
        assert influxdb.count(bucket) == len(rows), tg.log()[-3000:]
    finally:
        assert tg.stop() == 0
    dashboard = json.loads(render_grafana_dashboards(work / "grafana", env_example).read_text())
    return {"rows": rows, "bucket": bucket, "now": now, "dashboard": dashboard, "env": env_example}


def panel(loaded, title: str) -> dict:
    return next(p for p in loaded["dashboard"]["panels"] if p["title"] == title)


def run(influxdb, loaded, query: str, hours: int = 24) -> list[dict]:
    price = next(v for v in loaded["dashboard"]["templating"]["list"] if v["name"] == "unit_price")["current"]["value"]
    stop = loaded["now"] + timedelta(minutes=1)
    start = stop - timedelta(hours=hours)
    flux = grafana_flux(query, {"bucket": loaded["bucket"], "unitid": "smartmeter", "unit_price": price},
                        start.isoformat().replace("+00:00", "Z"), stop.isoformat().replace("+00:00", "Z"))
    assert "${" not in flux and "v." not in flux.replace("v: ", "")
    return influxdb.query(flux)


def values(records: list[dict]) -> list[float]:
    """The value column of each record (``_value`` or the name a rename() gave it)."""
    out = []
    for r in records:
        extra = [k for k in r if not k.startswith("_") and k not in ("result", "table", "dataid")]
        key = "_value" if "_value" in r else extra[0]
        out.append(r[key])
    return out


def test_every_panel_query_returns_data(influxdb, loaded):
    for p in loaded["dashboard"]["panels"]:
        for target in p["targets"]:
            records = run(influxdb, loaded, target["query"])
            vals = values(records)
            assert vals, f"panel {p['title']!r} {target['refId']}: no data"
            assert all(isinstance(v, float) for v in vals), f"panel {p['title']!r}: {vals[:5]}"


def test_variable_queries_list_the_bucket_and_the_meter(influxdb, loaded):
    variables = {v["name"]: v for v in loaded["dashboard"]["templating"]["list"]}
    buckets = influxdb.query(variables["bucket"]["query"])
    assert loaded["bucket"] in {r["_value"] for r in buckets}
    assert not {r["_value"] for r in buckets if r["_value"].startswith("_")}
    units = influxdb.query(grafana_flux(variables["unitid"]["query"], {"bucket": loaded["bucket"]}, "", ""))
    assert [r["_value"] for r in units] == ["smartmeter"]


def test_power_now_is_the_latest_e7(influxdb, loaded):
    (rec,) = run(influxdb, loaded, panel(loaded, "Power now")["targets"][0]["query"])
    latest = max((r for r in loaded["rows"] if r.epc == "E7"), key=lambda r: r.timestamp)
    assert rec["_value"] == float(latest.value)


def test_today_month_and_cost_match_the_csv_rows(influxdb, loaded):
    local_now = loaded["now"].astimezone(JST)
    today = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    (t,) = run(influxdb, loaded, panel(loaded, "Today")["targets"][0]["query"])
    (m,) = run(influxdb, loaded, panel(loaded, "This month")["targets"][0]["query"])
    assert t["_value"] == pytest.approx(usage_since(loaded["rows"], "E0", today), abs=1e-6)
    assert m["_value"] == pytest.approx(usage_since(loaded["rows"], "E0", month), abs=1e-6)
    assert t["_value"] > 0 and m["_value"] >= t["_value"]
    price = float(loaded["env"]["UNIT_PRICE_JPY_PER_KWH"])
    cost = panel(loaded, "Cost estimate")["targets"]
    (ct,) = run(influxdb, loaded, cost[0]["query"])
    (cm,) = run(influxdb, loaded, cost[1]["query"])
    assert ct["today"] == pytest.approx(t["_value"] * price)
    assert cm["this month"] == pytest.approx(m["_value"] * price)


def test_half_hour_bars_are_ea_differences_at_the_slot_start(influxdb, loaded):
    records = run(influxdb, loaded, panel(loaded, "Usage per half hour")["targets"][0]["query"])
    stop = loaded["now"] + timedelta(minutes=1)
    ea = sorted((r.timestamp, float(r.value)) for r in loaded["rows"]
                if r.epc == "EA" and stop - timedelta(hours=24) <= r.timestamp < stop)
    # the difference ending at tb is the usage of the slot [tb - 30 min, tb), drawn at its start
    expected = {(tb - timedelta(minutes=30)).astimezone(timezone.utc): b - a
                for (_ta, a), (tb, b) in zip(ea, ea[1:])}
    got = {r["_time"]: r["kWh"] for r in records}
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, abs=1e-9)


def test_import_export_and_currents(influxdb, loaded):
    imp, exp = (run(influxdb, loaded, t["query"], hours=72) for t in panel(loaded, "Import vs export (energy)")["targets"])
    assert sum(r["import"] for r in imp) > 0 and sum(r["export"] for r in exp) > 0
    stop = loaded["now"] + timedelta(minutes=1)
    e3 = [float(r.value) for r in sorted(loaded["rows"], key=lambda r: r.timestamp)
          if r.epc == "E3" and stop - timedelta(hours=72) <= r.timestamp < stop]
    assert sum(r["export"] for r in exp) == pytest.approx(e3[-1] - e3[0], abs=1e-6)
    pimp, pexp = (run(influxdb, loaded, t["query"], hours=72) for t in panel(loaded, "Import vs export (power)")["targets"])
    assert all(r["import"] >= 0 for r in pimp) and max(r["import"] for r in pimp) > 0
    assert all(r["export"] >= 0 for r in pexp) and max(r["export"] for r in pexp) > 0
    cur = run(influxdb, loaded, panel(loaded, "Current R / T")["targets"][0]["query"])
    assert {r["dataid"] for r in cur} == {"R", "T"}


def test_every_flux_example_in_the_deploy_guide_runs(influxdb, loaded):
    import re

    from services import REPO

    text = (REPO / "docs" / "deploy.md").read_text()
    blocks = re.findall(r"```flux\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    for block in blocks:
        assert 'from(bucket: "smartmeter")' in block
        records = influxdb.query(block.replace('from(bucket: "smartmeter")', f'from(bucket: "{loaded["bucket"]}")'))
        assert records, f"no data from:\n{block}"
        assert all(isinstance(r["_value"], (float, int)) for r in records), block
