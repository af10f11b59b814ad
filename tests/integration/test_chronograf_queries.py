"""chronograf/smartmeter-dashboard.json: every cell's Flux query runs on the REAL influxd loaded with
the logger's rows and returns data (Chronograf itself cannot run here: it is sent the way Chronograf
sends a Flux cell query, with v.timeRangeStart / v.timeRangeStop / v.windowPeriod substituted)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from services import REPO, wait_until

from logger.commands.importer import RowConverter
from logger.readings import Reading

JST = ZoneInfo("Asia/Tokyo")
DASHBOARD = REPO / "chronograf" / "smartmeter-dashboard.json"
GRAFANA = REPO / "grafana" / "dashboards" / "smartmeter.json"


def generate(now: datetime) -> list[Reading]:
    """From a day before this month (at least three days back) to ``now``: E7/E8/E0/E3 every 10 minutes,
    EA/EB on the half hours."""
    local = now.astimezone(JST)
    start = min(local.replace(day=1), local - timedelta(days=3)) - timedelta(days=1)
    t = start.replace(hour=0, minute=0, second=0, microsecond=0)
    out: list[Reading] = []
    e0, e3, i = Decimal("3871.2"), Decimal("12.5"), 0
    while t <= local:
        sun = 10 <= t.hour < 14
        power = Decimal(-600 - i % 50) if sun and i % 3 == 0 else Decimal(250 + (i * 37) % 1200)
        if power > 0:
            e0 += Decimal("0.1") * (1 + i % 2)
        else:
            e3 += Decimal("0.1")
        out += [Reading(t, "smartmeter", "E7", "", power), Reading(t, "smartmeter", "E8", "R", Decimal(i % 30) / 2),
                Reading(t, "smartmeter", "E8", "T", Decimal(i % 20) / 2),
                Reading(t, "smartmeter", "E0", "", e0), Reading(t, "smartmeter", "E3", "", e3)]
        if t.minute in (0, 30):
            out += [Reading(t, "smartmeter", "EA", "", e0), Reading(t, "smartmeter", "EB", "", e3)]
        t += timedelta(minutes=10)
        i += 1
    return out


def chronograf_flux(query: str, bucket: str, start: datetime, stop: datetime, window: str = "10m") -> str:
    """Chronograf's substitutions for a Flux cell (and the test bucket instead of "smartmeter")."""
    fmt = lambda t: t.astimezone(UTC).isoformat().replace("+00:00", "Z")
    out = query.replace('from(bucket: "smartmeter")', f'from(bucket: "{bucket}")')
    out = out.replace("v.timeRangeStart", f'time(v: "{fmt(start)}")').replace("v.timeRangeStop", f'time(v: "{fmt(stop)}")')
    return out.replace("v.windowPeriod", window)


@pytest.fixture(scope="module")
def loaded(influxdb):
    # a day boundary between loading and querying would move "today": start clear of it
    wait_until(lambda: (datetime.now(JST) + timedelta(minutes=3)).date() == datetime.now(JST).date(), timeout=200)
    now = datetime.now(UTC)
    rows = generate(now)
    bucket = influxdb.create_bucket("chronograf-dashboard")
    conv = RowConverter()
    lines = [conv.line(list(r.csv_row())) for r in rows]
    for k in range(0, len(lines), 5000):
        influxdb.write_lp(bucket, lines[k:k + 5000])
    assert influxdb.count(bucket) == len(rows)
    return {"rows": rows, "bucket": bucket, "now": now, "dashboard": json.loads(DASHBOARD.read_text())}


def run(influxdb, loaded, query: str, hours: int = 24) -> list[dict]:
    stop = loaded["now"] + timedelta(minutes=1)
    flux = chronograf_flux(query, loaded["bucket"], stop - timedelta(hours=hours), stop)
    assert "v." not in flux.replace("v: ", "")
    return influxdb.query(flux)


def values(records: list[dict]) -> list:
    out = []
    for r in records:
        extra = [k for k in r if not k.startswith("_") and k not in ("result", "table", "dataid")]
        out.append(r["_value"] if "_value" in r else r[extra[0]])
    return out


def cell(loaded, name: str) -> dict:
    return next(c for c in loaded["dashboard"]["dashboard"]["cells"] if c["name"] == name)


def test_dashboard_is_a_chronograf_export_with_flux_only():
    d = json.loads(DASHBOARD.read_text())
    assert set(d) == {"meta", "dashboard"} and d["meta"]["chronografVersion"].startswith("1.")
    cells = d["dashboard"]["cells"]
    assert len({c["i"] for c in cells}) == len(cells)
    for c in cells:
        assert {"i", "x", "y", "w", "h", "name", "queries", "type", "axes", "colors", "decimalPlaces"} <= set(c)
        assert c["type"] in ("single-stat", "line", "bar", "line-plus-single-stat", "table")
        assert 0 <= c["x"] and c["x"] + c["w"] <= 12
        for q in c["queries"]:
            assert q["type"] == "flux" and q["query"] == q["queryConfig"]["rawText"]
    # the same panels as the Grafana dashboard (its one two-query cost panel is two cells here)
    grafana = {p["title"] for p in json.loads(GRAFANA.read_text())["panels"]}
    names = {c["name"] for c in cells}
    assert (grafana - {"Cost estimate"}) <= names and {"Cost today", "Cost this month"} <= names


def test_every_cell_query_returns_data(influxdb, loaded):
    n = 0
    for c in loaded["dashboard"]["dashboard"]["cells"]:
        for q in c["queries"]:
            vals = values(run(influxdb, loaded, q["query"]))
            assert vals, f"cell {c['name']!r}: no data"
            assert all(isinstance(v, float) for v in vals), f"cell {c['name']!r}: {vals[:5]}"
            n += 1
    assert n == sum(len(c["queries"]) for c in loaded["dashboard"]["dashboard"]["cells"]) >= 10


def test_today_and_costs_match_the_rows(influxdb, loaded):
    local = loaded["now"].astimezone(JST)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)

    def usage_since(start: datetime) -> float:
        pts = sorted((r.timestamp, float(r.value)) for r in loaded["rows"]
                     if r.epc == "E0" and r.timestamp >= start - timedelta(days=1))
        return sum(b - a for (_, a), (tb, b) in pairwise(pts) if tb > start and b >= a)

    (t,) = values(run(influxdb, loaded, cell(loaded, "Today")["queries"][0]["query"]))
    (m,) = values(run(influxdb, loaded, cell(loaded, "This month")["queries"][0]["query"]))
    assert t == pytest.approx(usage_since(today), abs=1e-6) and t > 0
    assert m == pytest.approx(usage_since(month), abs=1e-6)
    (ct,) = values(run(influxdb, loaded, cell(loaded, "Cost today")["queries"][0]["query"]))
    (cm,) = values(run(influxdb, loaded, cell(loaded, "Cost this month")["queries"][0]["query"]))
    assert ct == pytest.approx(t * 31.0) and cm == pytest.approx(m * 31.0)
    (power,) = values(run(influxdb, loaded, cell(loaded, "Power now")["queries"][0]["query"]))
    assert power == float(max((r for r in loaded["rows"] if r.epc == "E7"), key=lambda r: r.timestamp).value)
