"""The live page in a real browser: Debian's headless Chromium, driven by playwright-core
(tests/browser/page_check.mjs), against the real ``run --simulate --web`` process.

Checked: the page loads (Japanese for a Japanese browser, English for an English one); the power
chart holds exactly the E7 rows of today's CSV file; a new reading appears without a reload;
half-hour bars with the day's kWh and cost; bad requests get a clear 4xx; no secret (B-route ID,
its PairID, password, InfluxDB token) in the page or any API answer; a phone-sized window has no
horizontal overflow; nothing is loaded from anywhere else and the console stays clean.

Needs /usr/bin/chromium and playwright-core: scripts/test.sh installs both (apt ``chromium``;
npm ``playwright-core`` into ~/.cache/smartmeter-deps/node). Missing, the test FAILS (never
skips). ``SMARTMETER_SHOTS=DIR`` also writes the page's screenshots there (README's docs/img)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from webproc import REPO, SECRETS, start

from logger.readings import Reading
from logger.sinks.csv_sink import CsvSink
from logger.state import SessionState, save_state

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DEPS = Path(os.environ.get("SMARTMETER_DEPS", Path.home() / ".cache" / "smartmeter-deps"))
NODE_MODULES = DEPS / "node" / "node_modules"
SCRIPT = REPO / "tests" / "browser" / "page_check.mjs"
TZ = ZoneInfo("Asia/Tokyo")  # the simulated meter's zone (settings default)


def require_browser() -> str:
    node = shutil.which("node")
    missing = [what for what, ok in (("chromium (/usr/bin/chromium)", Path(CHROMIUM).is_file()),
                                     ("node", node is not None),
                                     (f"playwright-core in {NODE_MODULES}", (NODE_MODULES / "playwright-core").is_dir()))
               if not ok]
    if missing:
        pytest.fail(f"browser test prerequisites missing: {', '.join(missing)}; run scripts/test.sh "
                    "(it installs Debian's chromium and playwright-core)")
    return node


def seed(root: Path) -> list[Reading]:
    """Earlier E7 rows of today (as if the logger had run before) and a backfill frontier at
    yesterday's midnight, so the simulated meter's history fills yesterday's and today's bars."""
    now = datetime.now(TZ)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = [Reading(now - timedelta(minutes=k), "smartmeter", "E7", "", Decimal(300 + 37 * k % 900 - 250 * (k % 7 == 0)))
            for k in range(40, 1, -1) if now - timedelta(minutes=k) >= midnight]
    sink = CsvSink(root / "data", "%Y%m%d-smartmeter.csv", TZ)
    sink.write(rows)
    sink.close()
    # recorded up to the half-hour before yesterday's midnight: yesterday's 00:00 .. today is backfilled
    save_state(root / "state", SessionState(last_slot=(midnight - timedelta(days=1, minutes=30)).timestamp()))
    return rows


def csv_e7(root: Path) -> list[tuple[float, float]]:
    path = root / "data" / datetime.now(TZ).strftime("%Y%m%d-smartmeter.csv")
    out = []
    for line in path.read_text().splitlines()[1:]:
        ts, unit, epc, dataid, value = line.split(",")
        if epc == "E7" and unit == "smartmeter" and not dataid:
            out.append((datetime.fromisoformat(ts).timestamp(), float(value)))
    return out


def texts_with_secrets(text: str) -> list[str]:
    values = [*SECRETS.values(), SECRETS["BROUTE_ID"][-8:]]  # the PairID is the ID's last 8 characters
    return [v for v in values if v.lower() in text.lower()]


@pytest.mark.slow
def test_live_page_in_headless_chromium(tmp_path):
    node = require_browser()
    now = datetime.now(TZ)
    if (now + timedelta(minutes=4)).date() != now.date():  # no day change while the test runs
        time.sleep((now.replace(hour=23, minute=59, second=59) - now).total_seconds() + 65)
    root = tmp_path / "run"
    seed(root)
    logger = start(root, env={"UNIT_PRICE_JPY_PER_KWH": "31"})
    try:
        logger.wait_serving()
        logger.wait_rows(len(csv_e7(root)) + 1, 120)  # the first live reading (after a real-time scan)
        yesterday = root / "data" / (now - timedelta(days=1)).strftime("%Y%m%d-smartmeter.csv")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not yesterday.is_file() or yesterday.read_text().count(",EA,") < 48):
            time.sleep(0.5)  # the backfill of yesterday's half-hours
        shots = os.environ.get("SMARTMETER_SHOTS", "")
        argv = [node, str(SCRIPT), "--url", logger.url] + (["--shots", shots] if shots else [])
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False,
                              env={**os.environ, "NODE_PATH": str(NODE_MODULES), "CHROMIUM": CHROMIUM})
        assert proc.returncode == 0, proc.stderr[-3000:]
        seen = json.loads(proc.stdout)
        # the event stream, read directly, for the secret scan
        stream = subprocess.run(["curl", "-sN", "--max-time", "12", logger.url + "api/events"], capture_output=True,
                                text=True, check=False).stdout if shutil.which("curl") else ""
        csv_after = csv_e7(root)
    finally:
        code = logger.stop()
    assert code == 0, logger.log.read_text()

    ja, after, en = seen["ja"], seen["jaAfter"], seen["en"]
    # Japanese labels for a Japanese browser
    assert ja["lang"] == "ja" and ja["title"] == "電力モニター" and "いまの電力" in ja["labels"]
    assert ja["state"] == "接続中" and ja["signal"].startswith("LQI 196") and "秒前" in ja["lastReading"]
    # the chart's points are the CSV's E7 rows (those up to the last plotted one)
    plotted = list(zip(ja["plotted"]["t"], ja["plotted"]["w"]))
    assert plotted == [p for p in csv_after if p[0] <= plotted[-1][0]]
    assert ja["chartPoints"] == len(plotted) > 30 and ja["chartCanvas"] >= 1
    # a new reading without a reload, and it is the CSV's too
    assert after["notReloaded"] and after["updates"] >= 1 and len(after["plotted"]["t"]) > len(plotted)
    new = list(zip(after["plotted"]["t"], after["plotted"]["w"]))
    assert new == [p for p in csv_after if p[0] <= new[-1][0]]
    assert after["chartPoints"] == len(new)
    # half-hour bars for both days, the day's kWh and cost at 31 JPY/kWh, bought and sold apart
    days = ja["energy"]["days"]
    assert [d["day"] for d in days] == [(now - timedelta(days=1)).date().isoformat(), now.date().isoformat()]
    for d in days:
        assert d["bought_kwh"] is not None and d["cost_jpy"] == pytest.approx(d["bought_kwh"] * 31)
        assert any(v is not None for v in d["slots"]["bought"])
    assert ja["barCharts"] >= 2 and "円" in ja["totals"][0] and "買電" in ja["totals"][0] and "売電" in ja["totals"][0]
    # bad requests: clear 4xx answers naming the problem
    bad = {(b["method"], b["url"]): b for b in seen["bad"]}
    assert [b["status"] for b in seen["bad"]] == [400, 400, 404, 404, 404, 405, 405]
    assert "'day'" in bad[("GET", "api/power?day=lastweek")]["body"]
    assert "'when'" in bad[("GET", "api/power?when=today")]["body"]
    assert all(b["nosniff"] == "nosniff" for b in seen["bad"])
    # no secret anywhere
    for name, text in [("ja page", ja["html"]), ("en page", en["html"]), ("event stream", stream),
                       *seen["api"].items(), *((b["url"], b["body"]) for b in seen["bad"])]:
        assert not texts_with_secrets(text), f"{name} shows a secret"
    assert "event: status" in stream or not shutil.which("curl")
    # English on an English phone, no horizontal overflow
    assert en["lang"] == "en" and en["title"] == "Power monitor" and "Power now" in en["labels"]
    assert en["state"] == "connected" and en["chartCanvas"] >= 1
    assert en["scrollWidth"] <= en["innerWidth"] == 390
    # nothing from elsewhere, no console errors but the bad requests' own
    assert seen["outside"] == []
    assert [p for p in seen["jaProblems"] if "the server responded with a status of 4" not in p] == []
    assert seen["enProblems"] == []
