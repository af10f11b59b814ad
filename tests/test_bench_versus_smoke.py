"""Smoke test of bench/versus.py: one short cold-start scenario, both clients read E7.

No timing figure is asserted (the machine is shared): only that the script ran, wrote its
rows, and that this logger and the momonga baseline each recorded E7 readings that match
the simulated meter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import momonga  # noqa: F401  (a dev dependency: the baseline needs it; fail, never skip)

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_versus_cold_smoke(tmp_path: Path) -> None:
    out = tmp_path / "versus.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "versus.py"), "--scenarios", "cold", "--seconds", "90",
         "--warmup", "0", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["name"] == "versus"
    assert any("cold" in r["measure"] for r in data["rows"])
    (run,) = data["details"]["runs"]
    for who in ("ours", "momonga"):
        assert run[who]["e7"] >= 1, (who, run[who]["log_tail"])
        assert run[who]["wrong"] == 0, (who, run[who])
