"""The live page's HTTP server (logger.web.server) on a real socket: GET/HEAD only, a fixed list
of files, short clear 4xx answers, security headers, the event stream, and that stalled or
greedy clients never hold up the runner's side of the feed."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from logger.readings import Reading
from logger.web import server as web_server
from logger.web.api import Api
from logger.web.feed import LiveFeed
from logger.web.history import History
from logger.web.server import STATIC, STATIC_DIR, WebServer

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=JST)


@pytest.fixture
def web(tmp_path):
    api = Api(LiveFeed("smartmeter"), History(tmp_path, "%Y%m%d-smartmeter.csv", JST, "smartmeter", None),
              clock=NOW.timestamp)
    server = WebServer("127.0.0.1:0", api)
    server.start()
    yield server
    api.feed.close(0)
    server.stop()


def request(web: WebServer, method: str, path: str, body: bytes | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    conn.request(method, path, body=body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def reading(seconds: float, value) -> Reading:
    return Reading(NOW + timedelta(seconds=seconds), "smartmeter", "E7", "", Decimal(str(value)))


def test_every_listed_file_is_served_with_its_type_and_the_security_headers(web):
    for path, (name, ctype) in STATIC.items():
        status, headers, body = request(web, "GET", path)
        assert status == 200 and body == (STATIC_DIR / name).read_bytes(), path
        assert headers["content-type"] == ctype
        assert headers["x-content-type-options"] == "nosniff"
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["x-frame-options"] == "DENY" and "server" not in headers
    status, headers, body = request(web, "HEAD", "/")
    assert status == 200 and body == b"" and int(headers["content-length"]) == (STATIC_DIR / "index.html").stat().st_size


def test_the_page_has_no_inline_script_or_style_and_loads_nothing_from_elsewhere():
    html = (STATIC_DIR / "index.html").read_text()
    assert "<style" not in html and " style=" not in html and "javascript:" not in html
    assert all(re.search(r"src=\"[^\"]+\"", tag) for tag in re.findall(r"<script[^>]*>", html))
    refs = re.findall(r"(?:src|href)=\"([^\"]+)\"", html)
    assert refs and all("//" not in ref and "/" + ref in STATIC for ref in refs), refs
    js = (STATIC_DIR / "app.js").read_text()
    assert "http://" not in js and "https://" not in js and "eval(" not in js and "innerHTML" not in js


def test_vendored_chart_library_is_the_npm_package_with_its_licence():
    vendor = STATIC_DIR / "vendor"
    readme = (vendor / "README.md").read_text()
    assert "uPlot" in readme and "1.6.32" in readme and "MIT" in readme and "npm pack uplot@1.6.32" in readme
    for name in ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE"):
        digest = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in readme, name
    assert "MIT License" in (vendor / "uPlot.LICENSE").read_text()
    assert (vendor / "uPlot.iife.min.js").read_text().startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")


@pytest.mark.parametrize("path", ["/nope", "/index.htm", "/static/app.js", "/vendor/", "/vendor/README.md",
                                  "/vendor/uPlot.LICENSE", "/../logger/web/server.py", "/%2e%2e/etc/passwd",
                                  "/app.js/..", "//etc/passwd", "/api", "/api/", "/api/secrets"])
def test_unknown_paths_are_404_with_a_short_message(web, path):
    status, headers, body = request(web, "GET", path)
    assert status == 404
    assert len(body) < 300 and ("the live page is at /" in body.decode() or "no such API address" in body.decode())
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"])
def test_other_methods_are_405(web, method):
    status, headers, body = request(web, method, "/api/status", b"x=1" if method in ("POST", "PUT") else None)
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert b"read-only" in body


@pytest.mark.parametrize(("query", "names"), [
    ("/api/power?day=lastweek", "'day'"), ("/api/power?when=today", "'when'"), ("/api/status?x=1", "'x'"),
    ("/api/energy?day=today", "'day'"), ("/api/power?day=today&day=today", "'day' given twice"),
    ("/api/events?all=1", "'all'"), ("/api/power?" + "&".join(f"a{i}=1" for i in range(20)), "fields"),
])
def test_bad_parameters_are_400_naming_the_parameter(web, query, names):
    status, headers, body = request(web, "GET", query)
    assert status == 400 and headers["content-type"] == "application/json"
    assert names in json.loads(body)["error"]


def test_malformed_requests_get_400_or_431(web):
    def raw(data: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", web.port), timeout=10) as s:
            s.sendall(data)
            return s.recv(4096)

    assert raw(b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(b"GET / SPDY/3\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 70 + b"\r\n").startswith(b"HTTP/1.1 431 ")
    assert raw(b"GET / HTTP/1.1\r\nX: " + b"y" * 9000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431 ")


def test_api_answers_json(web):
    status, headers, body = request(web, "GET", "/api/status")
    assert status == 200 and headers["cache-control"] == "no-store"
    assert json.loads(body)["state"] == "starting"
    assert request(web, "GET", "/api/power?day=yesterday")[0] == 200
    assert len(json.loads(request(web, "GET", "/api/energy")[2])["days"]) == 2


def read_events(sock_file, count: int) -> list[tuple[str, object]]:
    events, name = [], None
    while len(events) < count:
        line = sock_file.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
    return events


def test_event_stream_delivers_new_readings_and_status(web):
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as s:
        s.sendall(b"GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        f = s.makefile("rb")
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += f.readline()
        assert b"200 OK" in head and b"text/event-stream" in head and b"nosniff" in head
        assert read_events(f, 1)[0][0] == "status"
        web.api.feed.write([reading(1, 432)])
        (name, readings), (name2, status) = read_events(f, 2)
        assert name == "readings" and readings == [
            {"t": (NOW + timedelta(seconds=1)).timestamp(), "epc": "E7", "dataid": "", "value": 432.0}]
        assert name2 == "status" and status["power_w"] == 432.0
        web.api.feed.close(0)
        assert read_events(f, 1)[0][0] == "bye"


def test_stalled_clients_never_delay_the_feed(web, monkeypatch):
    """Clients that connect and never read (nor send a request) cost their own threads only: the
    runner's write() stays O(1) and quick while the streams' sockets are full."""
    stalled = []
    for _ in range(web_server.MAX_STREAMS):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", web.port))
        s.sendall(b"GET /api/events HTTP/1.1\r\n\r\n")
        stalled.append(s)  # never read
    silent = [socket.create_connection(("127.0.0.1", web.port)) for _ in range(3)]  # never send anything
    deadline = time.monotonic() + 10
    while web._streams < web_server.MAX_STREAMS and time.monotonic() < deadline:
        time.sleep(0.05)
    assert web._streams == web_server.MAX_STREAMS
    big = [reading(i, 1000 + i) for i in range(200)]  # ~15 KB of JSON per batch and stream
    worst = 0.0
    start = time.monotonic()
    for i in range(300):
        t0 = time.perf_counter()
        web.api.feed.write(big)
        worst = max(worst, time.perf_counter() - t0)
        time.sleep(0.002)
    took = time.monotonic() - start
    assert worst < 0.05, f"a write waited {worst * 1000:.1f} ms"
    assert took < 10
    # the streams are stuck on their full sockets (not reading the feed), and the page still answers
    status, _, body = request(web, "GET", "/api/status")
    assert status == 200
    status, _, body = request(web, "GET", "/api/events")
    assert status == 503 and b"too many live pages" in body
    for s in stalled + silent:
        s.close()


def test_connections_beyond_the_limit_are_refused_at_once(web, monkeypatch):
    monkeypatch.setattr(web_server, "MAX_CONNECTIONS", 2)
    held = [socket.create_connection(("127.0.0.1", web.port)) for _ in range(2)]
    deadline = time.monotonic() + 5
    while web._connections < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    with socket.create_connection(("127.0.0.1", web.port), timeout=5) as s:
        assert s.recv(100).startswith(b"HTTP/1.1 503")
    for s in held:
        s.close()
    deadline = time.monotonic() + 5
    while web._connections and time.monotonic() < deadline:
        time.sleep(0.02)
    assert request(web, "GET", "/api/status")[0] == 200


def test_an_idle_server_sleeps_and_stops_promptly(tmp_path):
    api = Api(LiveFeed("smartmeter"), History(None, "%Y%m%d.csv", JST, "smartmeter", None))
    server = WebServer("127.0.0.1:0", api)
    server.start()
    thread = server._thread
    time.sleep(0.3)
    assert [f for f in threading.enumerate() if f.name == "web"] == [thread]

    def switches() -> int:
        status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
        return sum(int(n) for n in re.findall(r"ctxt_switches:\s+(\d+)", status))

    # nothing wakes the listening thread while nobody connects (no poll interval, no timer)
    before = switches()
    time.sleep(1.5)
    assert switches() == before
    t0 = time.monotonic()
    server.stop()
    assert time.monotonic() - t0 < 1.0 and not thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1)


def test_ipv6_and_names_are_accepted_addresses():
    from logger.web.server import split_address

    assert split_address("[::1]:8000") == ("::1", 8000)
    assert split_address("0.0.0.0:80") == ("0.0.0.0", 80)
    assert split_address("localhost:8080") == ("localhost", 8080)


def test_static_dir_is_packaged():
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["logger"]
    shipped = {p.relative_to(STATIC_DIR.parents[1]).as_posix() for p in STATIC_DIR.rglob("*") if p.is_file()}
    import fnmatch

    for name in shipped:
        assert any(fnmatch.fnmatch(name, pat) for pat in patterns), f"{name} is not in package-data"


def test_day_curves_are_valid_json_written_in_pieces():
    from array import array

    from logger.web.server import _json_parts

    for doc in ({"day": "x", "t": array("d", [i + 0.125 for i in range(5000)]), "w": array("d", [-1.5] * 5000)},
                {"t": array("d")}, {"a": 1}, {"t": array("d", [1.0]), "b": None}):
        parts = _json_parts(doc)
        decoded = json.loads(b"".join(parts))
        assert decoded == {k: list(v) if not isinstance(v, (int, str, type(None))) else v for k, v in doc.items()}
    assert max(map(len, _json_parts({"t": array("d", range(20000))}))) < 40_000
