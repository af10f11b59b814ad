"""InfluxDB v2 sink: every point goes through the durable spool, then to InfluxDB in batches.

``write()`` appends line protocol to the spool (fsync'd) and returns; ``pump(now)``,
called from the runner loop right after readings are recorded (and at least once a
second), sends what is due:

* new points go out at once when the previous request was ``flush_interval_s`` (default
  1 s) or more ago - a live reading every 10 s is queryable within the loop iteration
  that recorded it, one small request per poll cycle;
* points recorded sooner than that after the previous request wait until it is
  ``flush_interval_s`` old, so a burst of small records (backfill answers, extra sensors)
  costs at most one request per ``flush_interval_s``;
* a full batch (``batch_size`` points: spool replay after an outage or a restart) goes at
  once, up to :data:`MAX_BATCHES_PER_PUMP` batches per call, oldest first.

A batch is committed (deleted from the spool) only after InfluxDB accepted it, so the
order of delivery is the order of recording.

Failures:

* unreachable, timeout, HTTP 5xx or 429: points stay spooled and are retried in order
  with exponential backoff (1 s doubling to 5 min; ``Retry-After`` is honoured);
* 401/403/404 (bad token, no write permission, missing bucket/org): a clear error naming
  the fix; the spool is kept and retried every 5 minutes, so fixing the token in place
  delivers everything;
* 400/422 (InfluxDB rejected some points as malformed or conflicting; it still writes the
  valid ones of the batch): logged with InfluxDB's message and the batch is committed -
  sending it again could never succeed and would block all later points.

When the spool itself cannot be written (disk full, read-only, permissions) the points
wait in memory, at most :data:`MEMORY_LIMIT` lines (oldest dropped beyond that, with a
loud count), the error is logged once, and they are spooled in order as soon as an
append works again (next ``write`` or ``pump``). ``write`` never raises for that.

Re-delivering after a crash (sent, not yet committed) is harmless: a point with the
same measurement, tags and timestamp overwrites the earlier one.

``influxdb_client`` is imported here lazily, only when the sink is created.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable

from logger.clock import Clock
from logger.config import InfluxSettings
from logger.readings import Reading
from logger.sinks.points import to_line
from logger.sinks.spool import Spool
from logger.typehints import Any

log = logging.getLogger(__name__)

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 300.0
MAX_BATCHES_PER_PUMP = 20
#: Lines kept in memory while the spool cannot be written.
MEMORY_LIMIT = 50_000
_CONFIG_STATUSES = (401, 403, 404)
_REJECTED_STATUSES = (400, 422)


class InfluxWriteError(Exception):
    """InfluxDB refused or could not be reached; ``str()`` names the fix, never the token."""


def _require(settings: InfluxSettings) -> tuple[str, str, str, str]:
    missing = [k for k in ("url", "token", "org", "bucket") if not getattr(settings, k)]
    if missing:
        raise ValueError(f"InfluxDB settings missing: {', '.join('influxdb.' + k for k in missing)}")
    assert settings.url and settings.token and settings.org and settings.bucket
    return settings.url, settings.token.reveal(), settings.org, settings.bucket


def classify_status(status: int, detail: str, org: str, bucket: str) -> tuple[str, str]:
    """(kind, message) for an HTTP status InfluxDB answered a write with (not 2xx).

    kind: ``transient`` (5xx, 429: retry later), ``config`` (401/403/404: fix the token, org or
    bucket), ``rejected`` (400/422: InfluxDB refused some points; sending them again cannot
    help) or ``other``. Shared by the live sink and ``smartmeter-logger import``.
    """
    if status in _CONFIG_STATUSES:
        return "config", (
            f"InfluxDB refused the write (HTTP {status}: {detail}); check INFLUXDB_URL/ORG/BUCKET "
            f"(org {org!r}, bucket {bucket!r} must exist) and that INFLUXDB_TOKEN has write permission "
            "on that bucket"
        )
    if status in _REJECTED_STATUSES:
        return "rejected", f"InfluxDB rejected points (HTTP {status}: {detail})"
    if status == 429 or status >= 500:
        return "transient", f"InfluxDB is unavailable (HTTP {status}: {detail})"
    return "other", f"InfluxDB answered HTTP {status}: {detail}"


def describe_failure(exc: BaseException, org: str, bucket: str) -> tuple[str, str]:
    """(kind, message) for a failed influxdb-client write; kinds as in :func:`classify_status`."""
    from influxdb_client.rest import ApiException

    if isinstance(exc, ApiException):
        detail = getattr(exc, "message", None) or exc.reason or ""
        return classify_status(exc.status or 0, detail, org, bucket)
    return "transient", f"InfluxDB is unreachable ({type(exc).__name__}: {_short(exc)})"


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None)
    if not headers:
        return None
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class InfluxSink:
    def __init__(self, settings: InfluxSettings, spool_dir: str | os.PathLike[str], clock: Clock) -> None:
        self._url, self._token, self._org, self._bucket = _require(settings)
        self._batch_size = settings.batch_size
        self._flush_interval = settings.flush_interval_s
        self._clock = clock
        self._spool = Spool(spool_dir)
        from influxdb_client import InfluxDBClient, WritePrecision
        from influxdb_client.client.write_api import SYNCHRONOUS

        self._precision = WritePrecision.MS
        self._timeout_ms = 10_000
        self._client = InfluxDBClient(url=self._url, token=self._token, org=self._org, timeout=self._timeout_ms)
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._last_send = clock.monotonic() - self._flush_interval  # latest request (attempted): the first goes at once
        self._appended = 0 if self._spool.pending_bytes == 0 else self._batch_size  # leftovers: send soon
        self._next_attempt = 0.0
        self._backoff = 0.0
        self._failing: str | None = None
        self._unspooled: deque[str] = deque()
        self._unspooled_dropped = 0
        self._spool_failing = False

    @property
    def pending_bytes(self) -> int:
        return self._spool.pending_bytes

    @property
    def unspooled(self) -> int:
        """Lines waiting in memory because the spool could not be written."""
        return len(self._unspooled)

    def write(self, readings: Iterable[Reading]) -> None:
        """Spool the readings (durably); if the spool cannot be written, keep them in memory."""
        lines = [to_line(r) for r in readings]
        self._unspooled.extend(lines)
        over = len(self._unspooled) - MEMORY_LIMIT
        if over > 0:
            for _ in range(over):
                self._unspooled.popleft()
            self._unspooled_dropped += over
            log.error("InfluxDB: %d points dropped so far (the in-memory queue holds %d while the spool %s "
                      "cannot be written)", self._unspooled_dropped, MEMORY_LIMIT, self._spool.directory)
        self._spool_waiting()

    def _spool_waiting(self) -> None:
        if not self._unspooled:
            return
        lines = list(self._unspooled)
        try:
            self._spool.append(lines)
        except OSError as exc:
            if not self._spool_failing:
                self._spool_failing = True
                log.error("InfluxDB: cannot write the spool in %s: %s; keeping up to %d points in memory until "
                          "it works again (check free space and permissions)", self._spool.directory,
                          exc.strerror or exc, MEMORY_LIMIT)
            return
        self._unspooled.clear()
        self._appended += len(lines)
        if self._spool_failing:
            self._spool_failing = False
            log.warning("InfluxDB: the spool in %s can be written again", self._spool.directory)

    def pump(self, now: float) -> None:
        """Send what is due at ``now`` (the clock's monotonic time: retry and flush intervals are
        not disturbed by a host-clock jump); never raises for InfluxDB trouble (it is logged)."""
        self._spool_waiting()
        if self._spool.pending_bytes == 0:
            self._appended = 0
            return
        if now < self._next_attempt:
            return
        if self._appended < self._batch_size and now - self._last_send < self._flush_interval:
            return
        self._last_send = now
        for _ in range(MAX_BATCHES_PER_PUMP):
            batch = self._spool.peek(self._batch_size)
            if not batch.lines:
                break
            if not self._send(batch.lines, now):
                self._appended = self._batch_size  # retry as soon as the backoff ends
                return
            self._spool.commit(batch.end)
        self._appended = 0 if self._spool.pending_bytes == 0 else self._batch_size

    def close(self, timeout_s: float) -> None:
        """The runner's stop (:class:`logger.runner.Sink`): spool what waits in memory, deliver
        the spool for at most ``timeout_s`` seconds (each request is cut at the deadline, so a
        black-holed InfluxDB cannot hold a ``docker stop`` up), then close. What was not
        delivered stays spooled for the next start. Says what happened in ONE line. Never
        raises for InfluxDB or spool trouble."""
        deadline = self._clock.monotonic() + max(0.0, timeout_s)
        self._spool_waiting()
        delivered, failure = 0, None
        while self._spool.pending_bytes:
            left = deadline - self._clock.monotonic()
            if left <= 0:
                failure = f"the stop allows {timeout_s:g} s for delivering"
                break
            batch = self._spool.peek(self._batch_size)
            if not batch.lines:
                break
            # the client's timeout applies per request (urllib3 total): never past the deadline
            self._client.conf.timeout = max(1, min(self._timeout_ms, int(left * 1000)))
            if not self._send(batch.lines, self._clock.monotonic(), quiet=True):
                failure = self._failing
                break
            self._spool.commit(batch.end)
            delivered += len(batch.lines)
        try:
            kept = self._spool.pending_lines()
        except OSError as exc:
            kept = -1
            failure = f"the spool cannot be read ({exc.strerror or exc})"
        self._report_stop(delivered, kept, failure)
        self._spool.close()
        self._write_api.close()
        self._client.close()

    def _report_stop(self, delivered: int, kept: int, failure: str | None) -> None:
        text = f"InfluxDB: {delivered} point(s) delivered on stop, "
        text += f"{kept if kept >= 0 else 'some'} kept in the spool ({self._spool.directory}) for the next start"
        level = logging.INFO
        if kept:
            level = logging.WARNING
            if failure:
                text += f" ({failure})"
        if self._unspooled:
            level = logging.ERROR
            text += (f"; {len(self._unspooled)} could not be spooled (the CSV files have them: "
                     "`smartmeter-logger import` loads them)")
        log.log(level, "%s", text)

    def check_write_access(self) -> str:
        """Check that the token may write to the bucket (sends an empty write). Raises InfluxWriteError."""
        return check_write_access(self._url, self._token, self._org, self._bucket)

    # ------------------------------------------------------------------ internals

    def _send(self, lines: list[str], now: float, quiet: bool = False) -> bool:
        """True when InfluxDB took ``lines`` (or rejected them for good). ``quiet``: a failure is
        not logged (:meth:`close` reports it in its one line)."""
        try:
            self._write_api.write(bucket=self._bucket, org=self._org, record="\n".join(lines),
                                  write_precision=self._precision)
        except Exception as exc:  # noqa: BLE001 - classified below, never lost
            kind, message = describe_failure(exc, self._org, self._bucket)
            if kind == "rejected":
                log.error("%s; %d points of this batch dropped, the valid ones were written", message, len(lines))
                return True
            if kind in ("config", "other"):
                self._backoff = BACKOFF_MAX_S
            else:
                self._backoff = min(BACKOFF_MAX_S, max(BACKOFF_START_S, self._backoff * 2))
            wait = max(self._backoff, _retry_after(exc) or 0.0)
            self._next_attempt = now + wait
            if self._failing != message and not quiet:
                log.error("%s; %d bytes kept in the spool, retrying in %.0f s", message,
                          self._spool.pending_bytes, wait)
            self._failing = message
            return False
        if self._failing is not None and not quiet:
            log.warning("InfluxDB: delivering again after: %s", self._failing)
        self._failing = None
        self._backoff = 0.0
        return True


def check_write_access(url: str, token: str, org: str, bucket: str, timeout_s: float = 10.0) -> str:
    """POST an empty body to /api/v2/write: InfluxDB checks token, org and bucket but stores nothing."""
    import urllib.error
    import urllib.parse
    import urllib.request

    query = urllib.parse.urlencode({"org": org, "bucket": bucket, "precision": "ms"})
    request = urllib.request.Request(f"{url.rstrip('/')}/api/v2/write?{query}", data=b"", method="POST",
                                     headers={"Authorization": f"Token {token}",
                                              "Content-Type": "text/plain; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        body = exc.read(500).decode("utf-8", "replace")
        detail = _json_message(body)
        if exc.code in _CONFIG_STATUSES:
            raise InfluxWriteError(
                f"InfluxDB refused the write (HTTP {exc.code}: {detail}); check org {org!r} and bucket {bucket!r} "
                "exist and that INFLUXDB_TOKEN has write permission on that bucket") from None
        raise InfluxWriteError(f"InfluxDB answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InfluxWriteError(f"InfluxDB at {url} is unreachable ({reason}); check INFLUXDB_URL") from None
    return f"InfluxDB {url}: token may write to bucket {bucket!r} in org {org!r} (HTTP {status})"


def _json_message(body: str) -> str:
    import json

    try:
        data: Any = json.loads(body)
    except ValueError:
        return body.strip()[:200]
    return str(data.get("message", body))[:200] if isinstance(data, dict) else body[:200]
