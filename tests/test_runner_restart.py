"""Restarts reuse the scan cache (scan.json); the heartbeat tells healthy from stale."""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from logger.health import check
from logger.health import main as health_main
from logger.simulate.dongle import DongleConfig
from logger.simulate.embedded import build_simulation, virtual_app
from logger.simulate.faults import Fault, FaultPlan
from logger.state import SCAN_FILE

TZ = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 11, 22, 9, 0, 5, tzinfo=TZ).timestamp()


def ea_keys(root):
    keys = []
    for f in sorted((root / "data").iterdir()):
        with f.open(newline="") as fh:
            keys += [(r[0], r[2], r[3]) for r in list(csv.reader(fh))[1:]]
    return keys


KEEP_SESSION = "session: {terminate_on_stop: false}"


def test_stop_ends_the_pana_session_and_a_restart_joins_from_the_cache(tmp_path):
    first = virtual_app(tmp_path, START)
    first.run(until=START + 600)
    sim = first.simulation
    assert sim.commands(b"SKTERM")  # SIGTERM/SIGINT path: SKTERM before the port closes
    assert sim.dongle.session == "none"
    sim.clock.advance(60)
    mark = len(sim.sent)
    second = virtual_app(tmp_path, sim.clock.time(), simulation=sim)
    second.run(until=sim.clock.time() + 600)
    assert second.session.stats["scans"] == 0 and second.session.stats["joins"] == 1
    # the state says the session was ended: no attempt to resume it before joining
    after = [d.split(b" ")[0].strip() for _t, d in sim.sent[mark:]]
    assert after.index(b"SKJOIN") < after.index(b"SKSENDTO")


def test_logger_restart_resumes_the_held_session(tmp_path):
    first = virtual_app(tmp_path, START, settings_yaml=KEEP_SESSION)
    first.run(until=START + 3600)
    assert first.session.stats["scans"] == 1
    state = json.loads((tmp_path / "state" / SCAN_FILE).read_text())
    assert state["scan"]["channel"] == 0x3B and state["last_slot"] is not None
    sim = first.simulation
    clock = sim.clock
    clock.advance(1800)  # down for half an hour; the dongle keeps its session
    mark = len(sim.sent)
    second = virtual_app(tmp_path, clock.time(), simulation=sim, settings_yaml=KEEP_SESSION)
    second.run(until=clock.time() + 3600)
    after = [data for _t, data in sim.sent[mark:]]
    assert not [d for d in after if d.startswith((b"SKSCAN", b"SKJOIN", b"SKSETPWD"))]
    assert second.session.stats["scans"] == 0 and second.session.stats["joins"] == 0
    keys = ea_keys(tmp_path)
    assert [k for k, c in Counter(keys).items() if c > 1] == []  # backfill after restart wrote nothing twice
    ea = sorted(k[0] for k in keys if k[1] == "EA")
    # 00:00 .. 11:30: the 10:30 push fell into the downtime and was backfilled
    assert ea == [f"2026-11-22T{h:02d}:{m:02d}:00.000+09:00" for h in range(12) for m in (0, 30)]


def test_restart_with_a_fresh_dongle_joins_from_the_cache_without_scanning(tmp_path):
    first = virtual_app(tmp_path, START)
    first.run(until=START + 600)
    clock = first.simulation.clock
    clock.advance(60)
    fresh = build_simulation(clock, "bp35a1", record_sent=True)  # replugged dongle, no session
    second = virtual_app(tmp_path, clock.time(), simulation=fresh)
    second.run(until=clock.time() + 600)
    assert fresh.commands(b"SKSCAN") == []
    assert len(fresh.commands(b"SKJOIN")) == 1
    assert second.session.stats["scans"] == 0 and second.runner.recorded > 0


def test_corrupt_scan_cache_warns_and_scans(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / SCAN_FILE).write_text('{"version": 1, "scan": {"chan')
    app = virtual_app(tmp_path, START)
    app.run(until=START + 300)
    assert "is unreadable" in caplog.text and "scanning afresh" in caplog.text
    assert app.session.stats["scans"] == 1 and app.runner.recorded > 0
    assert json.loads((tmp_path / "state" / SCAN_FILE).read_text())["scan"]["pan_id"] == 0x8257


def test_meter_moved_channel_cached_join_fails_then_scan(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    first = virtual_app(tmp_path, START)
    first.run(until=START + 300)
    path = tmp_path / "state" / SCAN_FILE
    data = json.loads(path.read_text())
    data["scan"]["channel"] = 0x21  # the meter was on another channel when the cache was written
    path.write_text(json.dumps(data))
    clock = first.simulation.clock
    fresh = build_simulation(clock, "bp35a1", record_sent=True)
    second = virtual_app(tmp_path, clock.time(), simulation=fresh)
    second.run(until=clock.time() + 900)
    assert "join with the cached meter (channel 33) failed; scanning afresh" in caplog.text
    assert len(fresh.commands(b"SKSCAN")) >= 1 and len(fresh.commands(b"SKJOIN")) == 2
    assert second.runner.recorded > 0
    assert json.loads(path.read_text())["scan"]["channel"] == 0x3B


def test_heartbeat_fresh_while_reading_stale_when_meter_silent(tmp_path, capsys):
    silence_at = START + 1800
    app = virtual_app(
        tmp_path, START, dongle=DongleConfig(faults=FaultPlan(scripted=[Fault(silence_at, "silence", 900)]))
    )
    hb = tmp_path / "state" / "heartbeat"
    clock = app.runner.clock
    ok, msg = check(hb, clock.time())
    assert not ok and "no heartbeat file" in msg
    seen = []
    for t in range(int(START) + 600, int(silence_at + 1500), 60):
        while clock.time() < t:
            app.runner._once(t)
        seen.append((t, check(hb, clock.time())[0]))
    healthy_before = [ok for t, ok in seen if t < silence_at]
    assert all(healthy_before)
    stale = [t for t, ok in seen if not ok]
    assert stale and min(stale) > silence_at and max(stale) < silence_at + 1500
    assert seen[-1][1]  # fresh again once readings flow after the silence
    assert health_main([str(hb)]) == 1  # real time is far from the virtual clock: stale
    assert "stale" in capsys.readouterr().out


def test_health_endpoint_answers_from_the_heartbeat(tmp_path):
    import json
    import socket
    import time
    import urllib.error
    import urllib.request

    from logger.health import serve

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    beat = tmp_path / "heartbeat"
    server = serve(f"127.0.0.1:{port}", beat)
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with pytest.raises(urllib.error.HTTPError) as info:  # nothing recorded yet
            urllib.request.urlopen(url, timeout=5)
        assert info.value.code == 503 and "no heartbeat file" in json.loads(info.value.read())["message"]
        beat.write_text(f"{time.time():.3f} 60\n")
        with urllib.request.urlopen(url, timeout=5) as r:
            assert r.status == 200 and json.loads(r.read())["ok"] is True
        beat.write_text(f"{time.time() - 600:.3f} 60\n")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url, timeout=5)
        assert info.value.code == 503 and "stale" in json.loads(info.value.read())["message"]
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
        assert info.value.code == 404
    finally:
        server.stop()


def test_run_starts_and_stops_the_health_endpoint(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = virtual_app(tmp_path, START, settings_yaml=f"health: {{http: '127.0.0.1:{port}'}}")
    app.run(until=START + 120)
    with socket.socket() as s:  # the port is free again: the endpoint stopped with the logger
        s.bind(("127.0.0.1", port))


def test_health_and_the_live_page_on_one_address_share_one_server(tmp_path):
    """``health.http`` equal to ``web.listen``: the page's server answers /healthz too (a second server
    could not bind that address), and it stops with the logger."""
    import json
    import socket
    import threading
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    app = virtual_app(tmp_path, START, settings_yaml=f"health: {{http: '{address}'}}\nweb: {{listen: '{address}'}}")
    answers: dict[str, tuple[int, dict]] = {}

    def ask() -> None:  # from another thread while the (virtual-time) loop runs
        for path in ("healthz", "api/status"):
            for _ in range(200):
                try:
                    with urllib.request.urlopen(f"http://{address}/{path}", timeout=5) as r:
                        answers[path] = (r.status, json.loads(r.read()))
                        break
                except urllib.error.HTTPError as exc:
                    answers[path] = (exc.code, json.loads(exc.read()))
                    break
                except OSError:
                    threading.Event().wait(0.05)

    asker = threading.Thread(target=ask)  # the virtual clock runs the loop as fast as it can: ask meanwhile
    asker.start()
    app.run(until=START + 86400)
    asker.join(10)
    assert answers["healthz"][0] in (200, 503) and set(answers["healthz"][1]) == {"ok", "message"}
    assert answers["api/status"][0] == 200 and "power_w" in answers["api/status"][1]
    with socket.socket() as s:  # stopped with the logger (its answered connections may linger in TIME_WAIT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
