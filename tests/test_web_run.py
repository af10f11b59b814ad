"""``run --web`` / ``web.listen`` / ``WEB_LISTEN`` through the real process and what ``run`` builds:
the flag wins, bad addresses and ports in use are one line and exit 2, the page is not even
imported when off, the live feed and the meter's signal reach the API, and clients that never
read do not delay a single reading."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from webproc import SECRETS, clean_env, free_port, prime_scan_cache, start


def run_once(tmp_path: Path, *args: str, env: dict[str, str] | None = None, settings: str | None = None):
    argv = [sys.executable, "-m", "logger", "run", "--simulate", *args]
    if settings is not None:
        (tmp_path / "settings.yml").write_text(settings)
        argv += ["--config", str(tmp_path / "settings.yml")]
    return subprocess.run(argv, cwd=tmp_path, env=clean_env({"CSV_DIR": str(tmp_path / "data"),
                                                             "STATE_DIR": str(tmp_path / "state"), **(env or {})}),
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_once(tmp_path, "--web", f"127.0.0.1:{port}")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0] and "--web" in lines[0] and "web.listen" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "data").exists(), "nothing was started"


@pytest.mark.parametrize(("args", "env", "key"), [
    (["--web", "8000"], {}, "--web"),
    (["--web", "127.0.0.1:99999"], {}, "--web"),
    ([], {"WEB_LISTEN": "nowhere"}, "web.listen"),
    ([], {"UNIT_PRICE_JPY_PER_KWH": "cheap", "WEB_LISTEN": "127.0.0.1:1"}, "UNIT_PRICE_JPY_PER_KWH"),
])
def test_bad_addresses_and_prices_are_one_line_and_exit_2(tmp_path, args, env, key):
    proc = run_once(tmp_path, *args, env=env)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and key in proc.stderr, proc.stderr


def test_the_flag_wins_over_settings_and_settings_and_env_turn_it_on(tmp_path):
    with socket.socket() as busy:  # settings point at a port in use: only the flag's port is used
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        (tmp_path / "a").mkdir()
        (tmp_path / "a" / "settings.yml").write_text(f"web:\n  listen: 127.0.0.1:{taken}\n")
        logger = start(tmp_path / "a", ["--config", str(tmp_path / "a" / "settings.yml")])
        try:
            logger.wait_serving()
            assert b"live page on http://127.0.0.1:" in logger.log.read_bytes()
        finally:
            assert logger.stop() == 0, logger.log.read_text()
    port = free_port()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "settings.yml").write_text(f"web:\n  listen: 127.0.0.1:{port}\n")
    logger = start(tmp_path / "b", ["--config", str(tmp_path / "b" / "settings.yml")], port=port, web=False)
    try:
        logger.wait_serving()
    finally:
        assert logger.stop() == 0
    port = free_port()
    logger = start(tmp_path / "c", env={"WEB_LISTEN": f"127.0.0.1:{port}"}, port=port, web=False)
    try:
        logger.wait_serving()
    finally:
        assert logger.stop() == 0
    # and an empty --web turns a configured page off
    logger = start(tmp_path / "d", ["--web", ""], env={"WEB_LISTEN": f"127.0.0.1:{port}"}, port=port, web=False)
    try:
        time.sleep(3)
        with pytest.raises(OSError):
            logger.get("api/status", 2)
    finally:
        assert logger.stop() == 0


def test_without_the_page_nothing_of_it_is_imported(tmp_path):
    code = ("import sys; from logger.config import load_settings; from logger.app import build_app;"
            "s = load_settings(None, env={'CSV_DIR': 'd', 'STATE_DIR': 's'}, dotenv=None);"
            "build_app(s, simulate=True);"
            "print(sorted(m for m in sys.modules if m.startswith('logger.web') or m in ('http.server', 'socketserver')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_what_run_builds_feeds_the_page_and_shows_the_signal(tmp_path):
    """A simulated hour through exactly what ``run`` builds with the page on (virtual clock)."""
    from logger.simulate.embedded import virtual_app
    from logger.web.api import csv_time
    from logger.web.server import WebServer, _json_parts

    start_t = datetime(2026, 11, 22, 10, 0, 5).astimezone().timestamp()
    app = virtual_app(tmp_path, start_t, settings_yaml=f"web: {{listen: '127.0.0.1:{free_port()}'}}",
                      rbid=SECRETS["BROUTE_ID"], password=SECRETS["BROUTE_PASSWORD"],
                      env={k: v for k, v in SECRETS.items()})
    assert isinstance(app.web, WebServer)
    names = [type(s).__name__ for s in app.runner.sinks]
    assert names == ["CsvSink", "LiveFeed"], "the feed comes after the CSV sink"
    api = app.web.api
    api.clock = app.runner.clock.time
    seen = []
    real_write = api.feed.write
    api.feed.write = lambda readings: (seen.extend(readings), real_write(readings))[1]
    app.run(until=start_t + 3600)
    assert any(r.epc == "E7" for r in seen)
    beacon_lqi = app.simulation.dongle.config.lqi
    status = api.status()
    assert status["lqi"] == beacon_lqi and status["rssi_dbm"] == round(0.275 * beacon_lqi - 104.27, 1)
    assert status["state"] == "stopped"
    power = api.power({})
    e7 = [r for r in seen if r.epc == "E7"]
    assert list(power["t"]) == [csv_time(r) for r in e7] and list(power["w"]) == [float(r.value) for r in e7]
    # no secret (nor the PairID, the ID's last 8 characters) in any answer
    answers = b"".join(b"".join(_json_parts(doc)) for doc in (status, power, api.energy(), api.power({"day": "yesterday"})))
    for secret in (*SECRETS.values(), SECRETS["BROUTE_ID"][-8:]):
        assert secret.encode() not in answers


@pytest.mark.slow
def test_clients_that_never_read_do_not_delay_readings(tmp_path):
    from logger.web.server import MAX_STREAMS

    prime_scan_cache(tmp_path / "run" / "state", tmp_path)
    logger = start(tmp_path / "run")
    stuck: list[socket.socket] = []
    try:
        logger.wait_serving()
        first = len(logger.wait_rows(1, 60))
        for _ in range(MAX_STREAMS + 4):  # more streams than allowed, none ever read
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            s.connect(("127.0.0.1", logger.port))
            s.sendall(b"GET /api/events HTTP/1.1\r\n\r\n")
            stuck.append(s)
        stuck += [socket.create_connection(("127.0.0.1", logger.port)) for _ in range(6)]  # never send a request
        t0 = time.time()
        rows = logger.wait_rows(first + 4, 60)
        stamps = [datetime.fromisoformat(r[0]).timestamp() for r in rows[first - 1:]]
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert max(gaps) <= 10.5, gaps  # every 10 s slot read on time
        assert stamps[-1] > t0
        assert logger.get("api/status")[0] == 200  # and the page still answers
    finally:
        for s in stuck:
            s.close()
        assert logger.stop() == 0, logger.log.read_text()
