"""influxdb/tasks/smartmeter_10m.flux on the REAL influxd, installed by influxdb/create-task.sh
(curl against the HTTP API), run by forcing task runs for fixed past windows, checked against the
same numbers computed from the CSV rows."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from services import REPO, ServiceError

from logger.commands.importer import RowConverter
from logger.readings import Reading

JST = ZoneInfo("Asia/Tokyo")
SCRIPT = REPO / "influxdb" / "create-task.sh"
START = datetime(2026, 11, 21, 10, 0, tzinfo=JST)  # 01:00Z
HOURS = 3
WINDOW = timedelta(minutes=10)


def generate() -> list[Reading]:
    """E7 every 20 s, E0/E3 every 5 min (+ a few seconds of jitter), with a 25-minute E0/E3 gap."""
    rows: list[Reading] = []
    t, i = START, 0
    while t < START + timedelta(hours=HOURS):
        power = Decimal(-350 - i % 50) if 11 <= t.hour < 12 and i % 2 else Decimal(200 + (i * 37) % 900)
        rows.append(Reading(t, "smartmeter", "E7", "", power))
        t += timedelta(seconds=20)
        i += 1
    e0, e3 = Decimal("3871.2"), Decimal("120.4")
    t, i = START + timedelta(seconds=3), 0
    gap = (START + timedelta(hours=1, minutes=12), START + timedelta(hours=1, minutes=37))
    while t < START + timedelta(hours=HOURS):
        e0 += Decimal("0.1") * (i % 4)
        e3 += Decimal("0.1") if 11 <= t.hour < 12 else Decimal(0)
        if not gap[0] <= t < gap[1]:
            rows += [Reading(t, "smartmeter", "E0", "", e0), Reading(t, "smartmeter", "E3", "", e3)]
        t += timedelta(minutes=5, seconds=(i * 7) % 11 - 5)
        i += 1
    return rows


def expected(rows: list[Reading]) -> dict[tuple[datetime, str], float]:
    """The task's numbers, from the rows: per 10-minute window (keyed by its start, UTC)."""
    out: dict[tuple[datetime, str], float] = {}
    w = START.astimezone(UTC)
    end = w + timedelta(hours=HOURS)
    while w < end:
        stop = w + WINDOW
        power = [float(r.value) for r in rows if r.epc == "E7" and w <= r.timestamp < stop]
        if power:
            out[(w, "power_w")] = statistics.fmean(power)
        for epc, field in (("E0", "import_kwh"), ("E3", "export_kwh")):
            pts = sorted((r.timestamp, r.value) for r in rows
                         if r.epc == epc and w - timedelta(hours=1) <= r.timestamp < stop)
            diffs = [float(b - a) for (ta, a), (tb, b) in pairwise(pts)
                     if w <= tb < stop and b >= a and (tb - ta).total_seconds() <= 3600]
            if diffs:
                out[(w, field)] = sum(diffs)
        w = stop
    return out


def create_task(influxdb, env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "LANG": "C.UTF-8"}
    return subprocess.run(["bash", str(SCRIPT)], check=False, cwd=cwd, env={**base, **env}, capture_output=True, text=True,
                          timeout=120)


def force_run(influxdb, task_id: str, scheduled: datetime) -> dict:
    run = influxdb.api("POST", f"/api/v2/tasks/{task_id}/runs",
                       {"scheduledFor": scheduled.astimezone(UTC).isoformat().replace("+00:00", "Z")})
    deadline = time.monotonic() + 60
    state = {"status": "not found"}
    while time.monotonic() < deadline:
        try:
            state = influxdb.api("GET", f"/api/v2/tasks/{task_id}/runs/{run['id']}")
        except ServiceError as exc:
            # between leaving the manual-run queue and landing in the run log, a run is briefly 404
            if "HTTP 404" not in str(exc):
                raise
            state = {"status": "not found"}
        if state["status"] in ("success", "failed", "canceled"):
            break
        time.sleep(0.2)
    if state["status"] != "success":
        logs = influxdb.api("GET", f"/api/v2/tasks/{task_id}/runs/{run['id']}/logs")
        pytest.fail(f"run for {scheduled} ended {state['status']}: {logs}", pytrace=False)
    return state


def test_task_installs_with_curl_and_computes_the_10_minute_summaries(influxdb, bucket, tmp_path):
    rows = generate()
    conv = RowConverter()
    influxdb.write_lp(bucket, [conv.line(list(r.csv_row())) for r in rows])
    dst = f"{bucket}-10m"
    env = {"INFLUXDB_URL": influxdb.url, "INFLUXDB_TOKEN": influxdb.token, "INFLUXDB_ORG": influxdb.org,
           "INFLUXDB_BUCKET": bucket, "DOWNSAMPLE_BUCKET": dst}
    first = create_task(influxdb, env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"bucket {dst} created" in first.stdout
    assert "task smartmeter_10m created: " in first.stdout
    assert influxdb.token not in first.stdout + first.stderr
    task_id = first.stdout.split("task smartmeter_10m created: ")[1].split()[0]

    # Again, this time from a .env in the working directory: updates the same task.
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    again = create_task(influxdb, {}, tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"bucket {dst} exists" in again.stdout and f"task smartmeter_10m updated: {task_id}" in again.stdout
    tasks = influxdb.api("GET", f"/api/v2/tasks?orgID={influxdb.org_id}&name=smartmeter_10m")["tasks"]
    assert [t["id"] for t in tasks] == [task_id]
    task = tasks[0]
    assert (task["every"], task["offset"], task["status"]) == ("10m", "1m", "active")
    assert f'src = "{bucket}"' in task["flux"] and f'dst = "{dst}"' in task["flux"]

    # Force one run per window: a run scheduled for T summarises [T - 10m, T).
    t = START + WINDOW
    while t <= START + timedelta(hours=HOURS):
        force_run(influxdb, task_id, t)
        t += WINDOW

    got = {(r["_time"], r["_field"]): r["_value"] for r in influxdb.query(
        f'from(bucket: "{dst}") |> range(start: 2026-11-20T00:00:00Z, stop: 2026-11-23T00:00:00Z) '
        '|> filter(fn: (r) => r._measurement == "smartmeter_10m" and r.unitid == "smartmeter")')}
    want = expected(rows)
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key
    # the numbers mean something: export only around noon, the E0 gap leaves windows without import
    assert {k[0].hour for k, v in want.items() if k[1] == "export_kwh" and v > 0} == {2}  # 11:xx JST
    windows = HOURS * 6
    assert sum(1 for k in want if k[1] == "power_w") == windows
    assert 0 < sum(1 for k in want if k[1] == "import_kwh") < windows
    # energy is conserved: the windows add up to the counter's increase (the 25-minute gap is bridged)
    e0 = sorted((r.timestamp, r.value) for r in rows if r.epc == "E0")
    assert sum(v for k, v in got.items() if k[1] == "import_kwh") == pytest.approx(float(e0[-1][1] - e0[0][1]))


def test_create_task_reports_a_bad_token_without_printing_it(influxdb, bucket, tmp_path):
    env = {"INFLUXDB_URL": influxdb.url, "INFLUXDB_TOKEN": "wrong-token-xyz", "INFLUXDB_ORG": influxdb.org,
           "INFLUXDB_BUCKET": bucket}
    result = create_task(influxdb, env, tmp_path)
    assert result.returncode == 1
    assert "HTTP 401" in result.stderr and "check INFLUXDB_TOKEN" in result.stderr
    assert "wrong-token-xyz" not in result.stdout + result.stderr
    missing = create_task(influxdb, {k: v for k, v in env.items() if k != "INFLUXDB_ORG"}, tmp_path)
    assert missing.returncode != 0 and "set INFLUXDB_ORG" in missing.stderr
