"""The live page's HTTP server: read-only, GET and HEAD, a fixed list of addresses.

Built on the standard library's threading TCP server (:mod:`socketserver`, the machinery under
``http.server.ThreadingHTTPServer``), with the few lines of request reading a GET-only page
needs. ``http.server`` itself is not imported: it pulls in ``http.client``, ``email`` and
``ssl`` (OpenSSL), about 6 MB of resident memory measured on top of the logger's ~19.5 MB, for
nothing this page uses.

* Every connection gets its own daemon thread and a socket timeout; at most
  :data:`MAX_CONNECTIONS` at once (more are refused at once) and :data:`MAX_STREAMS` live
  streams. The listening thread sleeps in ``select`` until a connection comes: no timer
  wakes it while nobody has the page open.
* ``GET /healthz`` (``health.http``, :func:`logger.health.serve`; the same server, with no page,
  or the page's own when both use one address): 200 or 503 with the heartbeat check as JSON.
* Answers: the static files of ``static/`` by a whitelist (no path is ever joined to a
  directory), the JSON API (:mod:`logger.web.api`) and ``/api/events``, a server-sent event
  stream of the live readings (:class:`~logger.web.feed.LiveFeed`). Anything else is a short
  4xx naming the problem: unknown address 404, other methods 405, bad parameters 400.
* Every answer carries ``X-Content-Type-Options: nosniff`` and a Content-Security-Policy that
  allows only this server's own scripts, styles and connections (the page has no inline script).
"""

from __future__ import annotations

import json
import logging
import selectors
import socket
import socketserver
import threading
from array import array
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

from logger.web.api import API_PATHS, Api, BadRequest, check_params, reading_json

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
_JS, _CSS = "text/javascript; charset=utf-8", "text/css; charset=utf-8"
#: address -> (file under static/, content type): the only files ever served
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", _JS),
    "/app.css": ("app.css", _CSS),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
    "/vendor/uPlot.iife.min.js": ("vendor/uPlot.iife.min.js", _JS),
    "/vendor/uPlot.min.css": ("vendor/uPlot.min.css", _CSS),
}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Content-Security-Policy", CSP),
                    ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY"))
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}

MAX_LINE = 8192
MAX_HEADERS = 64
MAX_CONNECTIONS = 32
MAX_STREAMS = 8
#: a status event at least this often on a live stream (also tells a dead client from a live one)
KEEPALIVE_S = 15.0
#: a client that sends nothing, or reads nothing, for this long is dropped
SOCKET_TIMEOUT_S = 20.0
#: send buffer of a live stream: a client that stopped reading fills it within minutes, then times out
STREAM_SNDBUF = 32 * 1024


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (validated by :func:`logger.config.listen_address`) → (host, port)."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


class WebServer:
    """The socket is bound when this is made (the caller reports a bind error); requests are
    served from :meth:`start` until :meth:`stop`."""

    def __init__(self, address: str, api: Api | None = None, heartbeat: str | Path | None = None) -> None:
        #: the live page's API (None: no page, e.g. the health endpoint alone)
        self.api = api
        #: ``GET /healthz`` answers from this heartbeat file (:func:`logger.health.check`); None: no such address
        self.heartbeat = heartbeat
        self.stopping = False
        self._lock = threading.Lock()
        self._connections = 0
        self._streams = 0
        host, port = split_address(address)
        self.httpd = _TcpServer((host, port), socket.AF_INET6 if ":" in host else socket.AF_INET, self)
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="web", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(2.0)
        self.httpd.server_close()
        self._wake_r.close()
        self._wake_w.close()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self.httpd, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self.stopping:
                for key, _ in sel.select():
                    if key.fileobj is self.httpd and not self.stopping:
                        self.httpd.handle_request()  # accepts the waiting connection (timeout 0)

    # connection and stream slots
    def enter(self, stream: bool = False) -> bool:
        with self._lock:
            if stream:
                if self._streams >= MAX_STREAMS:
                    return False
                self._streams += 1
            else:
                if self._connections >= MAX_CONNECTIONS:
                    return False
                self._connections += 1
            return True

    def leave(self, stream: bool = False) -> None:
        with self._lock:
            if stream:
                self._streams -= 1
            else:
                self._connections -= 1


class _TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 16
    timeout = 0  # handle_request() accepts what select() saw, never waits itself

    def __init__(self, address: tuple[str, int], family: int, web: WebServer) -> None:
        self.address_family = family
        self.web = web
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        if not self.web.enter():
            _refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except RuntimeError:  # no thread could be started
            self.web.leave()
            self.shutdown_request(request)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.web.leave()

    def handle_error(self, request, client_address) -> None:
        log.debug("web: a request failed", exc_info=True)


def _refuse(request: socket.socket) -> None:
    try:
        request.setblocking(False)
        request.send(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                     b"too many connections to the live page at once; try again\n")
    except OSError:
        pass
    request.close()


class _Handler(socketserver.StreamRequestHandler):
    timeout = SOCKET_TIMEOUT_S
    head = False

    def handle(self) -> None:
        try:
            self._handle()
        except (OSError, ValueError):  # the client went away, stopped reading or sent nothing in time
            return

    def _handle(self) -> None:
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return
        parts = line.decode("latin-1").split()
        if len(line) > MAX_LINE or len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self.text(400, "not an HTTP/1.x request line")
            return
        method, target, _version = parts
        self.head = method == "HEAD"
        for _ in range(MAX_HEADERS + 1):
            header = self.rfile.readline(MAX_LINE + 1)
            if header in (b"\r\n", b"\n", b""):
                break
            if len(header) > MAX_LINE:
                self.text(431, "a request header is too long")
                return
        else:
            self.text(431, "too many request headers")
            return
        if method not in ("GET", "HEAD"):
            self.text(405, f"{method[:20]} is not allowed: the page is read-only (GET and HEAD only)",
                      (("Allow", "GET, HEAD"),))
            return
        path, _, query = target.partition("?")
        web: WebServer = self.server.web
        if path == "/healthz" and web.heartbeat is not None:
            from logger.health import check

            ok, message = check(web.heartbeat)
            self.json(200 if ok else 503, {"ok": ok, "message": message})
        elif web.api is None:
            self.text(404, f"no such address {path[:80]!r}: only /healthz here")
        elif path in STATIC:
            name, ctype = STATIC[path]
            self.send(200, (STATIC_DIR / name).read_bytes(), ctype, "no-cache")
        elif path in API_PATHS:
            self.api(path, query)
        elif path.startswith("/api/"):
            self.json(404, {"error": f"no such API address {path[:80]!r} (there are {', '.join(API_PATHS)})"})
        else:
            self.text(404, f"no such page {path[:80]!r}: the live page is at /")

    def api(self, path: str, query: str) -> None:
        api: Api = self.server.web.api
        try:
            params = check_params(parse_qsl(query, keep_blank_values=True, max_num_fields=8), API_PATHS[path])
            if path == "/api/power":
                body = api.power(params)
        except (BadRequest, ValueError) as exc:
            self.json(400, {"error": str(exc)})
            return
        if path == "/api/events":
            self.events(api)
            return
        if path != "/api/power":
            body = api.status() if path == "/api/status" else api.energy()
        self.json(200, body)

    def events(self, api: Api) -> None:
        web: WebServer = self.server.web
        if not web.enter(stream=True):
            self.json(503, {"error": f"too many live pages open (at most {MAX_STREAMS}); close one and reload"})
            return
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SNDBUF)
            self.head_lines(200, "text/event-stream; charset=utf-8", "no-store", (("X-Accel-Buffering", "no"),))
            if self.head:
                return
            feed = api.feed
            seq = feed.seq
            self.wfile.write(b"retry: 3000\n\n" + _event("status", api.status()))
            while not web.stopping:
                seq, readings, lost, closed = feed.wait(seq, KEEPALIVE_S)
                if closed or web.stopping:
                    self.wfile.write(_event("bye", {}))
                    return
                out = [_event("reload", {})] if lost else []
                if readings:
                    out.append(_event("readings", [reading_json(r) for r in readings]))
                out.append(_event("status", api.status()))
                self.wfile.write(b"".join(out))
        finally:
            web.leave(stream=True)

    # ------------------------------------------------------------------ answers

    def head_lines(self, code: int, ctype: str, cache: str, extra=(), length: int | None = None) -> None:
        lines = [f"HTTP/1.1 {code} {REASONS[code]}", f"Content-Type: {ctype}", f"Cache-Control: {cache}",
                 "Connection: close"]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines += [f"{k}: {v}" for k, v in (*SECURITY_HEADERS, *extra)]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send(self, code: int, body: bytes, ctype: str, cache: str = "no-store", extra=()) -> None:
        self.head_lines(code, ctype, cache, extra, len(body))
        if not self.head:
            self.wfile.write(body)

    def text(self, code: int, message: str, extra=()) -> None:
        self.send(code, (message + "\n").encode("utf-8", "replace"), "text/plain; charset=utf-8", extra=extra)

    def json(self, code: int, doc: dict) -> None:
        """A small answer with its Content-Length; a day's curve (arrays) written piece by piece as
        it is encoded, ended by closing the connection: it is never held whole (a day's curve is
        ~200 kB of JSON, which would stay in the request threads' malloc arena)."""
        if not any(isinstance(v, array) for v in doc.values()):
            body = b"".join(_json_parts(doc))
            self.head_lines(code, "application/json", "no-store", (), len(body))
            if not self.head:
                self.wfile.write(body)
            return
        self.head_lines(code, "application/json", "no-store")
        if not self.head:
            for part in _json_parts(doc):
                self.wfile.write(part)


def _json_parts(doc: dict) -> Iterator[bytes]:
    """``doc`` as JSON in pieces; an ``array`` of numbers (a day's curve) is written straight from
    its buffer, a few thousand values a piece, never as one Python object per value."""
    plain = {k: v for k, v in doc.items() if not isinstance(v, array)}
    text = json.dumps(plain, separators=(",", ":"), allow_nan=False)
    yield text[:-1].encode()
    sep = "," if plain else ""
    for key, values in doc.items():
        if isinstance(values, array):
            yield f"{sep}{json.dumps(key)}:[".encode()
            for i in range(0, len(values), 2048):
                yield (("," if i else "") + ",".join(map(repr, values[i:i + 2048]))).encode()
            yield b"]"
            sep = ","
    yield b"}"


def _event(name: str, doc) -> bytes:
    return f"event: {name}\ndata: {json.dumps(doc, separators=(',', ':'), allow_nan=False)}\n\n".encode()
