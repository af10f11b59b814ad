"""Writing line protocol bodies to InfluxDB for ``import``: parallel, retried, never dropped silently.

Bodies go to ``connections`` writer threads, each with its own persistent HTTP connection
(:mod:`http.client`, no influxdb-client), so the caller's parsing and InfluxDB's ingest overlap.
HTTP 5xx, 429 and connection errors are retried with a doubling delay (1 s to 16 s,
``Retry-After`` honoured); anything else, or retries running out, is :class:`WriteFailed`
carrying the ``file:line`` spans that were not (or not certainly) written.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from logger.typehints import Any, TextIO

#: Retries of a batch after a transient failure (delays 1, 2, 4, 8, 16 s).
TRANSIENT_RETRIES = 5
DEFAULT_CONNECTIONS = 2
HTTP_TIMEOUT_S = 120.0


#: (file index, first line, last line) of the rows in a request body.
Span = tuple[int, int, int]
END = sys.maxsize  # "to the end of the file" as a last line


@dataclass
class Body:
    """One write request's body: its line protocol, how many rows, and which file lines it holds."""

    data: bytes
    rows: int
    spans: list[Span] = field(default_factory=list)


class WriteFailed(Exception):
    """The import stopped: ``str()`` says why; ``unwritten`` the spans not (certainly) written."""

    def __init__(self, message: str, unwritten: list[Span]) -> None:
        super().__init__(message)
        self.unwritten = unwritten


class HttpWriter:
    """POST /api/v2/write from ``connections`` threads, each with one persistent HTTP connection.

    :meth:`submit` blocks while all threads are busy and a few bodies wait (bounded memory),
    and raises :class:`WriteFailed` once a batch failed for good; :meth:`finish` waits for
    everything submitted.
    """

    def __init__(self, url: str, token: str, org: str, bucket: str, *, connections: int = DEFAULT_CONNECTIONS,
                 gzip: bool = False, log: TextIO = sys.stderr, sleep: Callable[[float], object] | None = None) -> None:
        import http.client
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"InfluxDB URL {url!r} must look like http://host:8086")
        self._conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._host, self._port = parts.hostname, parts.port
        query = urllib.parse.urlencode({"org": org, "bucket": bucket, "precision": "ms"})
        self._path = f"{parts.path.rstrip('/')}/api/v2/write?{query}"
        self._url, self._org, self._bucket = url, org, bucket
        self._headers = {"Authorization": f"Token {token}", "Content-Type": "text/plain; charset=utf-8",
                         "Accept": "application/json"}
        if gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._gzip = gzip
        self._log = log
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._queue: queue.Queue[Body | None] = queue.Queue(maxsize=connections)
        self._lock = threading.Lock()
        self._error: str | None = None
        self._unwritten: list[Span] = []
        self.written = 0
        self._threads = [threading.Thread(target=self._work, name=f"import-writer-{i}", daemon=True)
                         for i in range(max(1, connections))]
        for t in self._threads:
            t.start()

    def submit(self, body: Body) -> None:
        while True:
            self._raise_if_failed()
            try:
                self._queue.put(body, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Wait until every submitted body is written; raise :class:`WriteFailed` if one was not."""
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join()
        self._raise_if_failed()

    def abort(self) -> list[Span]:
        """Stop the threads (queued bodies are not sent); the spans not written."""
        self._stop.set()
        while True:
            try:
                body = self._queue.get_nowait()
            except queue.Empty:
                break
            if body is not None:
                self._unwritten.extend(body.spans)
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        for t in self._threads:
            t.join(timeout=HTTP_TIMEOUT_S)
        return sorted(self._unwritten)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise WriteFailed(self._error, self.abort())

    # ------------------------------------------------------------------ threads

    def _work(self) -> None:
        conn = None
        try:
            while True:
                body = self._queue.get()
                if body is None:
                    return
                if self._error is not None or self._stop.is_set():
                    with self._lock:
                        self._unwritten.extend(body.spans)
                    continue
                data = body.data
                if self._gzip:
                    import gzip

                    data = gzip.compress(data, compresslevel=1)
                try:
                    conn = self._post(conn, data)
                except WriteFailed as exc:
                    with self._lock:
                        self._unwritten.extend(body.spans)
                        if self._error is None:
                            self._error = str(exc)
                    self._stop.set()
                    continue
                with self._lock:
                    self.written += body.rows
        finally:
            if conn is not None:
                conn.close()

    def _post(self, conn: Any, data: bytes) -> Any:  # conn: http.client.HTTPConnection or None
        """Send one body (with retries); the connection to reuse. Raises WriteFailed."""
        import http.client

        from logger.sinks.influx_sink import _json_message, classify_status

        delay = 1.0
        for attempt in range(TRANSIENT_RETRIES + 1):
            retry_after = None
            fresh = conn is None
            if conn is None:
                conn = self._conn_class(self._host, self._port, timeout=HTTP_TIMEOUT_S)
            try:
                conn.request("POST", self._path, body=data, headers=self._headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
                if 200 <= status < 300:
                    if response.will_close:
                        conn.close()
                        conn = None
                    return conn
                retry_after = response.getheader("Retry-After")
                detail = _json_message(payload[:2000].decode("utf-8", "replace"))
                kind, message = classify_status(status, detail, self._org, self._bucket)
                if status == 413:
                    message += "; use a smaller --batch-size"
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = None
                if not fresh and attempt == 0 and isinstance(exc, (http.client.RemoteDisconnected,
                                                                    ConnectionResetError, BrokenPipeError)):
                    continue  # the server closed an idle keep-alive connection: reconnect once, no delay
                kind, message = "transient", f"InfluxDB at {self._url} is unreachable ({type(exc).__name__}: {exc})"
            if kind != "transient" or attempt == TRANSIENT_RETRIES or self._stop.is_set():
                if kind == "transient" and attempt == TRANSIENT_RETRIES:
                    message += f" (gave up after {TRANSIENT_RETRIES} retries)"
                raise WriteFailed(message, [])
            wait = delay
            try:
                wait = max(delay, min(float(retry_after), 300.0)) if retry_after else delay
            except ValueError:
                pass
            print(f"import: {message}; retrying in {wait:.0f} s", file=self._log, flush=True)
            self._sleep(wait)
            if self._stop.is_set():  # another batch failed for good meanwhile: stop too
                raise WriteFailed(message, [])
            delay *= 2
        raise WriteFailed("unreachable", [])  # not reached


def describe_spans(spans: list[Span], names: list[str], lengths: dict[int, int] | None = None) -> list[str]:
    """``a.csv:5001-12265`` (or ``a.csv (whole file)``) for each file's merged spans, in file order.

    A last line of :data:`END` means "to the end of the file"; ``lengths`` (lines per file, for the
    files read to the end) lets a span that covers a whole file say so.
    """
    lengths = lengths or {}
    merged: dict[int, list[list[int]]] = {}
    for idx, first, last in sorted(spans):
        runs = merged.setdefault(idx, [])
        if runs and first <= runs[-1][1] + 1:
            runs[-1][1] = max(runs[-1][1], last)
        else:
            runs.append([first, last])
    out = []
    for idx in sorted(merged):
        for first, last in merged[idx]:
            if last >= lengths.get(idx, END):
                last = END
            if first <= 1 and last == END:
                out.append(f"{names[idx]} (whole file)")
            else:
                out.append(f"{names[idx]}:{first}-{'end' if last == END else last}")
    return out
