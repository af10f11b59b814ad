"""The typed settings :func:`logger.config.load_settings` returns (frozen dataclasses).

Secret values are :class:`~logger.secrets.Secret` and never appear in reprs or
:meth:`Settings.redacted`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from logger.config_keys import ConfigError, fix_for
from logger.schedule import ScheduleEntry
from logger.secrets import MASK, Secret
from logger.sensors import SensorSettings
from logger.typehints import Any


@dataclass(frozen=True)
class MeterSettings:
    """``meter:`` in settings.yml: which meter is logged, in which time zone."""

    unitid: str
    timezone: str
    #: the host's clock is trusted within this many seconds of the meter's (0x97/0x98)
    clock_tolerance_s: float

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class BrouteSettings:
    """The B-route ID and password (``BROUTE_ID``/``BROUTE_PASSWORD``), masked wherever shown."""

    id: Secret | None
    password: Secret | None


@dataclass(frozen=True)
class SerialSettings:
    """``serial:``: the dongle's port, its baud rate and its family (``auto`` detects it)."""

    port: str | None
    baudrate: int
    dongle: str


@dataclass(frozen=True)
class SessionSettings:
    """``session:``: where the session keeps its state, the scan durations and request limits."""

    state_dir: Path
    scan_duration_min: int
    scan_duration_max: int
    max_epcs_per_get: int
    request_timeout_s: float
    retries: int
    backfill: bool
    terminate_on_stop: bool = True
    silence_rejoin_s: float = 900.0


@dataclass(frozen=True)
class CsvSettings:
    """``csv:``: the daily CSV files (on or off, their directory and file name pattern)."""

    enabled: bool
    directory: Path
    filename: str


@dataclass(frozen=True)
class InfluxSettings:
    """``influxdb:``: the InfluxDB v2 sink (on or off, where to write, the token masked)."""

    enabled: bool
    url: str | None
    token: Secret | None
    org: str | None
    bucket: str | None
    batch_size: int
    flush_interval_s: float
    spool_dir: Path


@dataclass(frozen=True)
class HealthSettings:
    """``health:``: the heartbeat file, when it counts as stale, and the ``/healthz`` address."""

    heartbeat_file: Path
    stale_after_cycles: int
    http: str | None


@dataclass(frozen=True)
class LoggingSettings:
    """``logging:``: the log level."""

    level: str


@dataclass(frozen=True)
class WebSettings:
    """``web:``: the live page."""

    #: host:port of the live page (``run --web``), None = off
    listen: str | None = None


@dataclass(frozen=True)
class Settings:
    """Everything ``run`` is configured with: settings.yml, the environment and .env, validated."""

    meter: MeterSettings
    broute: BrouteSettings
    serial: SerialSettings
    session: SessionSettings
    schedule: tuple[ScheduleEntry, ...]
    csv: CsvSettings
    influxdb: InfluxSettings
    health: HealthSettings
    logging: LoggingSettings
    #: extra serial sensors (logger.sensors); empty unless settings.yml lists some
    sensors: tuple[SensorSettings, ...] = ()
    web: WebSettings = WebSettings()
    source: Path | None = field(default=None, compare=False)

    def redacted(self) -> dict[str, Any]:
        """Nested plain dict for display (``doctor``): secrets shown as ``********`` (or null)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "schedule":
                out["schedule"] = [
                    {"epc": [f"{e:02X}" for e in entry.epcs], "cycle": entry.cycle if entry.cycle else "start",
                     "at_start": entry.at_start}
                    for entry in value
                ]
            elif f.name == "sensors":
                out["sensors"] = [{k.name: getattr(s, k.name) for k in fields(s)} for s in value]
            elif is_dataclass(value):
                out[f.name] = {k.name: _plain(getattr(value, k.name)) for k in fields(value)}
            else:
                out[f.name] = _plain(value)
        return out

    def secret_values(self) -> list[str]:
        """The real secret values, for :class:`~logger.secrets.RedactingFilter` only."""
        return [s.reveal() for s in (self.broute.id, self.broute.password, self.influxdb.token) if s is not None]

    def require_meter_access(self) -> None:
        """Raise :class:`ConfigError` unless the B-route ID, password and serial port are set."""
        for key, value in (("broute.id", self.broute.id), ("broute.password", self.broute.password),
                           ("serial.port", self.serial.port)):
            if value is None:
                raise ConfigError(key, "missing (needed to talk to the meter)", fix_for(key))


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, Path):
        return str(value)
    return value
