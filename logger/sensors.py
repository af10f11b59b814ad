"""Extra serial sensors beside the meter (an Arduino, a TWELite receiver, ...).

Each configured device prints text lines; every line becomes a row in the same daily CSV
(and InfluxDB) with the device's own ``unitid``, so it flows through Telegraf, InfluxDB
and Grafana like meter data::

    sensors:
      - port: /dev/ttyACM0        # a device path or a pyserial URL (socket://host:port)
        baudrate: 9600
        unitid: arduino           # the unitid column of its rows
        # default format: "sensorid,value" per line -> epc column = sensorid
        # regex: 'T(?P<sensorid>\\d)=(?P<value>-?[0-9.]+)'   # other formats: named groups
        # sensorid: temp          # fixed sensor id when the regex has no sensorid group

A line that does not match, or whose value is not a number, is dropped and counted (the
count is logged with the per-minute statistics); the device keeps being read. A device
that disappears is reopened with back-off.

:class:`SensorLineParser` is sans-I/O (bytes in, ``(sensorid, value)`` out); only
:class:`SensorInput` touches the port.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from logger.readings import Reading
from logger.timeconv import from_posix
from logger.typehints import Any

log = logging.getLogger(__name__)

DEFAULT_PATTERN = r"\s*(?P<sensorid>[A-Za-z0-9_.:-]+)\s*,\s*(?P<value>[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*"
MAX_LINE = 1024
REOPEN_BACKOFF = (1.0, 5.0, 15.0, 60.0)
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class SensorConfigError(ValueError):
    """A bad ``sensors`` entry; ``key`` names it (``sensors[0].regex``)."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key, self.problem, self.fix = key, problem, fix


@dataclass(frozen=True)
class SensorSettings:
    """One extra serial sensor from settings.yml ``sensors:``: its port and how its lines are read."""

    port: str
    unitid: str
    baudrate: int = 9600
    regex: str | None = None
    sensorid: str | None = None

    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.regex if self.regex else DEFAULT_PATTERN)


def parse_sensors(raw: Any) -> tuple[SensorSettings, ...]:
    """Validate the ``sensors`` list of settings.yml."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SensorConfigError("sensors", "must be a list of devices", "see the sensors example in settings.yml")
    out = []
    allowed = {"port", "baudrate", "unitid", "regex", "sensorid"}
    for i, item in enumerate(raw):
        key = f"sensors[{i}]"
        if not isinstance(item, dict):
            raise SensorConfigError(key, "must be a mapping with port and unitid", "see settings.yml")
        for name in item:
            if name not in allowed:
                raise SensorConfigError(f"{key}.{name}", "unknown key", f"use only {', '.join(sorted(allowed))}")
        port = item.get("port")
        if not isinstance(port, str) or not port:
            raise SensorConfigError(f"{key}.port", "missing", "give a device path or a pyserial URL")
        unitid = item.get("unitid")
        if not isinstance(unitid, str) or not _ID.fullmatch(unitid):
            raise SensorConfigError(f"{key}.unitid", "missing or not a plain name",
                                    "use letters, digits, _ . : - (no spaces or commas)")
        baud = item.get("baudrate", 9600)
        if not isinstance(baud, int) or isinstance(baud, bool) or baud <= 0:
            raise SensorConfigError(f"{key}.baudrate", f"must be a positive integer (got {baud!r})", "e.g. 9600")
        regex = item.get("regex")
        sensorid = item.get("sensorid")
        if regex is not None:
            if not isinstance(regex, str):
                raise SensorConfigError(f"{key}.regex", "must be a string", "quote it in YAML")
            try:
                compiled = re.compile(regex)
            except re.error as exc:
                raise SensorConfigError(f"{key}.regex", f"is not a valid regular expression ({exc})",
                                        "fix the pattern") from None
            if "value" not in compiled.groupindex:
                raise SensorConfigError(f"{key}.regex", "has no named group 'value'",
                                        "write (?P<value>...) around the number")
            if "sensorid" not in compiled.groupindex and not sensorid:
                raise SensorConfigError(f"{key}.sensorid", "needed: the regex has no (?P<sensorid>...) group",
                                        "add sensorid: NAME or a sensorid group")
        if sensorid is not None and (not isinstance(sensorid, str) or not _ID.fullmatch(sensorid)):
            raise SensorConfigError(f"{key}.sensorid", "not a plain name", "use letters, digits, _ . : -")
        out.append(SensorSettings(port, unitid, baud, regex, sensorid))
    return tuple(out)


class SensorLineParser:
    """Bytes from a sensor device → ``(sensorid, Decimal)`` pairs (sans-I/O)."""

    def __init__(self, settings: SensorSettings) -> None:
        self._pattern = settings.pattern()
        self._fixed_id = settings.sensorid
        self._buf = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> list[tuple[str, Decimal]]:
        self._buf += data
        out: list[tuple[str, Decimal]] = []
        while True:
            cut = min((i for i in (self._buf.find(b"\n"), self._buf.find(b"\r")) if i >= 0), default=-1)
            if cut < 0:
                if len(self._buf) > MAX_LINE:
                    self._buf.clear()
                    self.dropped += 1
                return out
            line = bytes(self._buf[:cut])
            del self._buf[: cut + 1]
            if line.strip():
                item = self._line(line.decode("utf-8", "replace"))
                if item is None:
                    self.dropped += 1
                else:
                    out.append(item)

    def _line(self, text: str) -> tuple[str, Decimal] | None:
        m = self._pattern.fullmatch(text.strip())
        if m is None:
            return None
        groups = m.groupdict()
        sensorid = groups.get("sensorid") or self._fixed_id
        if not sensorid or not _ID.fullmatch(sensorid):
            return None
        try:
            value = Decimal(groups["value"])
        except (InvalidOperation, KeyError, TypeError):
            return None
        if not value.is_finite():
            return None
        return sensorid, value


class SensorInput:
    """One sensor device: opened lazily, read without blocking, reopened when it fails."""

    def __init__(self, settings: SensorSettings, tz: ZoneInfo) -> None:
        self.settings = settings
        self.tz = tz
        self.parser = SensorLineParser(settings)
        self._ser = None
        self._failures = 0
        self._next_open = 0.0

    def poll(self, now: float) -> list[Reading]:
        if self._ser is None and not self._open(now):
            return []
        import serial

        try:
            waiting = self._ser.in_waiting
            data = self._ser.read(waiting) if waiting else b""
        except (serial.SerialException, OSError) as exc:
            log.warning("sensor %s (%s) lost: %s; reopening", self.settings.unitid, self.settings.port, exc)
            self.close()
            self._next_open = now + REOPEN_BACKOFF[0]
            return []
        if not data:
            return []
        ts = from_posix(now, self.tz)
        return [Reading(ts, self.settings.unitid, sid, "", value) for sid, value in self.parser.feed(data)]

    def _open(self, now: float) -> bool:
        if now < self._next_open:
            return False
        import serial

        try:
            self._ser = serial.serial_for_url(self.settings.port, baudrate=self.settings.baudrate, timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            from logger.transport import explain_open_error

            delay = REOPEN_BACKOFF[min(self._failures, len(REOPEN_BACKOFF) - 1)]
            if self._failures == 0:
                log.warning("sensor %s: %s (retrying every %.0f s or so)", self.settings.unitid,
                            explain_open_error(self.settings.port, exc, "the sensor's port in settings.yml",
                                               "sensor"), delay)
            self._failures += 1
            self._next_open = now + delay
            return False
        if self._failures:
            log.info("sensor %s (%s) open again", self.settings.unitid, self.settings.port)
        self._failures = 0
        return True

    def close(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except OSError:
                pass
        self._ser = None
