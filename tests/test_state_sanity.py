"""State files whose values make no sense (logger/state.py, the spool's ``committed``) are refused
with one clear line naming the file and the problem, moved aside as ``<name>.bad-<n>`` and rebuilt:
never a traceback, never a silent stall. The host's clock is no reference for a time in the
file (a Raspberry Pi boots days behind): a frontier after the real time (a post-2038 one crashed
the logger on a 32-bit ``time_t``) is dropped by the session once the meter's clock has told the
time (tests/test_clock_faults.py). scripts/test-arm.sh runs this file inside the armv7 image too,
and starts the image itself on such a state."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from logger.state import SCAN_FILE, ScanResult, SessionState, load_state, save_state
from logger.sinks.spool import Spool

TZ = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 22, 9, 0, 5, tzinfo=TZ).timestamp()
SLOT = datetime(2026, 11, 22, 8, 30, tzinfo=TZ).timestamp()
POST_2038 = datetime(2040, 6, 1, 12, 0, tzinfo=TZ).timestamp()
REPO = Path(__file__).resolve().parents[1]
SCAN = {"channel": 59, "pan_id": 0x8257, "addr": "001C640003DD8257",
        "ipaddr": "FE80:0000:0000:0000:021C:6400:03DD:8257", "duration": 6, "dialect": "bp35a1"}


def good() -> dict:
    return {"version": 1, "scan": dict(SCAN), "last_slot": SLOT, "recorded": [SLOT + 3600], "session_held": True}


def write(state_dir: Path, data: object) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / SCAN_FILE
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_a_sane_file_loads_as_saved(tmp_path):
    state = SessionState(ScanResult(**SCAN), last_slot=SLOT, recorded=(SLOT + 3600,), session_held=False)
    save_state(tmp_path, state)
    assert load_state(tmp_path) == state
    assert not list(tmp_path.glob("*.bad-*"))


def _with(**changes) -> dict:
    data = good()
    for key, value in changes.items():
        if key.startswith("scan_"):
            data["scan"][key[5:]] = value
        else:
            data[key] = value
    return data


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


BAD = {
    "frontier before 2000": (_with(last_slot=5.0), "last_slot is 5 (1970-01-01T00:00:05Z)", "between 2000 and 2100"),
    "frontier after 2100": (_with(last_slot=4.2e9), "last_slot is 4200000000", "between 2000 and 2100"),
    "negative frontier": (_with(last_slot=-1800.0), "last_slot is -1800", "between 2000 and 2100"),
    "NaN frontier": ('{"version": 1, "scan": null, "last_slot": NaN}', "last_slot is nan", "between 2000"),
    "Infinity frontier": ('{"version": 1, "scan": null, "last_slot": Infinity}', "last_slot is inf", "between 2000"),
    "frontier as text": (_with(last_slot="1796081400"), "last_slot is '1796081400'", "between 2000"),
    "frontier as true": (_with(last_slot=True), "last_slot is True", "between 2000"),
    "recorded slot after 2100": (_with(recorded=[SLOT + 1800, 4.2e9]), "recorded[1] is 4200000000", "and 2100"),
    "recorded not a list": (_with(recorded=SLOT), "recorded is float, not a list", ""),
    "channel as text": (_with(scan_channel="59"), "scan.channel is '59', not an integer", ""),
    "negative PAN ID": (_with(scan_pan_id=-1), "scan.pan_id is -1, outside 0..65535", ""),
    "MAC not hex": (_with(scan_addr="001C64000XDD8257"), "scan.addr is '001C64000XDD8257'", ""),
    "unknown scan key": (_with(scan_colour="red"), "scan has unknown keys colour", ""),
    "scan a list": (_with(scan=[1, 2]), "scan is list, not an object", ""),
    "session_held text": (_with(session_held="yes"), "session_held is 'yes'", ""),
    "newer version": (_with(version=2), "version is 2, not 1", ""),
    "not an object": ("[1796081400]", "the file holds list, not an object", ""),
}


@pytest.mark.parametrize("name", list(BAD))
def test_nonsense_is_refused_with_one_line_moved_aside_and_rebuilt(tmp_path, caplog, name):
    data, *expected = BAD[name]
    caplog.set_level(logging.WARNING)
    path = write(tmp_path, data)
    original = path.read_bytes()
    assert load_state(tmp_path) == SessionState()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(f"state file {path} makes no sense (")
    for part in expected:
        assert part in line, line
    assert "moved aside to scan.json.bad-1; scanning afresh with a fresh state" in line
    assert not path.exists() and (tmp_path / "scan.json.bad-1").read_bytes() == original
    assert "\n" not in line


def test_unreadable_json_is_moved_aside_too(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    path = write(tmp_path, '{"version": 1, "scan": {"chan')
    assert load_state(tmp_path) == SessionState()
    assert not path.exists()
    assert (tmp_path / "scan.json.bad-1").read_text() == '{"version": 1, "scan": {"chan'
    [line] = warnings(caplog)  # one line, naming the file
    assert str(path) in line


def test_set_aside_numbers_and_keeps_at_most_nine(tmp_path):
    for n in range(1, 12):
        write(tmp_path, _with(last_slot=1800.0 * n))
        assert load_state(tmp_path) == SessionState()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"scan.json.bad-{n}" for n in range(1, 10)]
    assert json.loads((tmp_path / "scan.json.bad-1").read_text())["last_slot"] == 1800.0
    assert json.loads((tmp_path / "scan.json.bad-9").read_text())["last_slot"] == 1800.0 * 11


def test_a_post_2038_state_loads_the_host_clock_is_no_reference(tmp_path):
    # right after 2038, or on a Raspberry Pi that booted days behind: a time after the host's is no
    # reason to refuse (the session drops a frontier in the future once the meter told the time)
    write(tmp_path, _with(last_slot=POST_2038, recorded=[POST_2038 + 3600]))
    state = load_state(tmp_path)
    assert state.last_slot == POST_2038 and state.recorded == (POST_2038 + 3600,)
    assert not list(tmp_path.glob("*.bad-*"))


def test_a_read_only_state_dir_still_gives_a_fresh_state(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.WARNING)
    write(tmp_path, _with(last_slot=-1800.0))

    def read_only(*_args):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "replace", read_only)
    assert load_state(tmp_path) == SessionState()
    assert (tmp_path / SCAN_FILE).exists() and not list(tmp_path.glob("*.bad-*"))  # left where it was
    [line] = warnings(caplog)  # still one line, naming the file
    assert str(tmp_path / SCAN_FILE) in line


# --------------------------------------------------------------------------- spool ``committed``


def _spool(tmp_path: Path, committed: str) -> tuple[Spool, Path]:
    d = tmp_path / "spool"
    s = Spool(d)
    s.append(["m v=1 1", "m v=2 2"])
    s.commit(s.peek(1).end)
    s.close()
    (d / "committed").write_text(committed)
    return Spool(d), d


@pytest.mark.parametrize("committed, problem", [
    ("-1 0\n", "position -1 0 is negative or too large"),
    ("1 -5\n", "position 1 -5 is negative or too large"),
    ("7 0\n", "segment 7 is after the newest spooled segment 1"),
    ("1 999\n", "offset 999 is past the end of segment 1 (16 bytes)"),
    ("one two\n", "is unreadable (invalid literal"),
])
def test_spool_committed_nonsense_resends_everything(tmp_path, caplog, committed, problem):
    caplog.set_level(logging.WARNING)
    s, d = _spool(tmp_path, committed)
    try:
        assert s.peek(10).lines == ["m v=1 1", "m v=2 2"]  # nothing lost: everything again
    finally:
        s.close()
    assert (d / "000000000001.lp").exists()
    assert (d / "committed.bad-1").read_text() == committed  # the refused file, kept for a bug report
    [line] = warnings(caplog)  # one line naming the file and the problem
    assert str(d / "committed") in line and problem in line


def test_spool_committed_sane_is_kept(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    s, _d = _spool(tmp_path, "1 8\n")
    try:
        assert s.peek(10).lines == ["m v=2 2"]
    finally:
        s.close()
    assert warnings(caplog) == [] and not list(_d.glob("*.bad-*"))


# --------------------------------------------------------------------------- the real process


def test_run_simulate_on_a_post_2038_state_says_so_and_goes_on(tmp_path):
    """``smartmeter-logger run --simulate`` (the container's command) with a scan.json whose frontier
    is in 2040: no traceback; once the meter has told the time, one line drops the frontier, today is
    backfilled from local midnight, and SIGTERM still stops it with exit 0."""
    from webproc import clean_env, prime_scan_cache

    state = tmp_path / "state"
    prime_scan_cache(state, tmp_path / "prime")  # joins the simulated meter at once
    data = json.loads((state / SCAN_FILE).read_text())
    data.update(last_slot=POST_2038, recorded=[POST_2038 + 1800])
    write(state, data)
    env = clean_env({"CSV_DIR": str(tmp_path / "data"), "STATE_DIR": str(state), "LOGGER_TIMEZONE": "Asia/Tokyo"})
    out = tmp_path / "out.log"
    with out.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "logger", "run", "--simulate", "--env-file", os.devnull],
                                cwd=tmp_path, env=env, stdout=fh, stderr=subprocess.STDOUT)

    def saved_frontier() -> float | None:
        try:
            return json.loads((state / SCAN_FILE).read_text())["last_slot"]
        except (OSError, ValueError):
            return POST_2038  # being replaced: read again

    try:
        deadline = time.monotonic() + 90
        while "written under a wrong clock" not in out.read_text(errors="replace") or saved_frontier() == POST_2038:
            assert proc.poll() is None, out.read_text(errors="replace")
            assert time.monotonic() < deadline, out.read_text(errors="replace")
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.read_text(errors="replace")
    assert rc == 0, text
    assert "Traceback" not in text and "OverflowError" not in text, text
    assert "makes no sense" not in text  # loading keeps it: the host clock is no reference
    dropped = [line for line in text.splitlines() if "written under a wrong clock" in line]
    assert len(dropped) == 1, text
    assert "records half-hours up to 2040-06-01T12:30:00+09:00, after the current time" in dropped[0]
    frontier, now = saved_frontier(), time.time()
    assert frontier is None or now - 86400 - 1800 <= frontier <= now  # from local midnight on
    assert not list(state.glob("*.bad-*"))
