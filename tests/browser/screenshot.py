"""Make the README's screenshots of the live page: docs/img/web-page.png (Japanese, desktop) and
docs/img/web-page-phone.png (English, phone), from the real ``run --simulate --web``.

    python3 tests/browser/screenshot.py [OUT_DIR]        (default: docs/img)

The simulator runs in real time, so today's earlier curve is made first: the project's simulated
meter on a virtual clock from local midnight to now (the same load model), whose E7/E8 rows of
today are written to the data directory as the logger would have. The real process then scans,
joins and backfills yesterday's and today's half-hours from the simulated meter's history, and
the page is photographed by tests/browser/page_check.mjs. Needs what tests/test_web_browser.py
needs (scripts/test.sh) and a Japanese font for the glyphs (apt-get install fonts-ipafont-gothic).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1])]

from test_web_browser import CHROMIUM, NODE_MODULES, SCRIPT, TZ, require_browser
from webproc import start

from logger.simulate.embedded import virtual_app
from logger.sinks.csv_sink import CsvSink
from logger.state import SessionState, save_state


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parents[1] / "docs" / "img").resolve()
    out.mkdir(parents=True, exist_ok=True)
    node = require_browser()
    with tempfile.TemporaryDirectory(prefix="smartmeter-shot-") as tmp:
        root = Path(tmp) / "run"
        now = datetime.now(TZ)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        app = virtual_app(Path(tmp) / "virtual", midnight.timestamp() + 5)
        rows = []
        app.runner.sinks.append(type("Keep", (), {"write": lambda self, r: rows.extend(r),
                                                  "close": lambda self, t: None})())
        app.run(until=now.timestamp() - 60)
        sink = CsvSink(root / "data", "%Y%m%d-smartmeter.csv", TZ)
        sink.write([r for r in rows if r.epc in ("E7", "E8") and r.timestamp >= midnight])
        sink.close()
        save_state(root / "state", SessionState(last_slot=(midnight - timedelta(days=1, minutes=30)).timestamp()))
        logger = start(root, env={"UNIT_PRICE_JPY_PER_KWH": "31"})
        try:
            logger.wait_serving()
            logger.wait_rows(len(logger.e7_rows()) + 1, 120)
            time.sleep(40)  # the backfill of both days, and a few more live readings
            subprocess.run([node, str(SCRIPT), "--url", logger.url, "--shots", str(out), "--wait-new", "0"],
                           check=True, stdout=subprocess.DEVNULL,
                           env={**os.environ, "NODE_PATH": str(NODE_MODULES), "CHROMIUM": CHROMIUM})
        finally:
            logger.stop()
    print(f"wrote {out / 'web-page.png'} and {out / 'web-page-phone.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
