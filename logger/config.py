"""Settings: built-in defaults < ``settings.yml`` < ``.env`` < environment, validated.

``load_settings()`` returns frozen dataclasses or raises :class:`ConfigError`, whose
``str()`` names the key, the problem and the fix, e.g.
``config error: broute.password: must be 12 characters (got 8); set BROUTE_PASSWORD in .env``.
Commands turn a ``ConfigError`` into exit code 2. Secret values are wrapped in
:class:`~logger.secrets.Secret` and never appear in errors, reprs or ``redacted()``.

Environment variables (also read from ``.env``, which never overrides the real environment):

==================  =========================  ==================================================
variable            key                        meaning
==================  =========================  ==================================================
BROUTE_ID           broute.id                  B-route authentication ID (32 letters/digits)
BROUTE_PASSWORD     broute.password            B-route password (12 characters)
SERIAL_PORT         serial.port                device path or pyserial URL (``socket://host:port``)
INFLUXDB_ENABLED    influxdb.enabled           ``true``/``false`` (also 1/0, yes/no)
INFLUXDB_URL        influxdb.url               e.g. ``http://influxdb:8086``
INFLUXDB_TOKEN      influxdb.token             API token with write permission on the bucket
INFLUXDB_ORG        influxdb.org               organisation name
INFLUXDB_BUCKET     influxdb.bucket            bucket name
LOGGER_TIMEZONE     meter.timezone             IANA zone of the meter (independent of ``TZ``)
LOGGER_UNITID       meter.unitid               ``unitid`` column/tag
CSV_DIR             csv.directory              where daily CSV files go
STATE_DIR           session.state_dir          session state, spool, heartbeat
DEBUG               logging.level              ``1``/``true`` sets the level to DEBUG
==================  =========================  ==================================================

Relative paths are relative to the working directory. ``influxdb.spool_dir`` and
``health.heartbeat_file`` default to ``<state_dir>/spool`` and ``<state_dir>/heartbeat``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logger.schedule import MIN_CYCLE_S, ScheduleEntry, DEFAULT_ENTRIES
from logger.secrets import MASK, Secret
from logger.sensors import SensorConfigError, SensorSettings, parse_sensors

DEFAULT_CONFIG_PATH = Path("config/settings.yml")
DONGLES = ("auto", "bp35a1", "rl7023-ips", "rl7023-dss", "bp35c0", "bp35c2")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(Exception):
    """A setting is missing or wrong. ``key`` is the dotted key, ``fix`` how to put it right."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__(key, problem, fix)
        self.key = key
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"config error: {self.key}: {self.problem}; {self.fix}"


# dotted key -> (kind, default). Kinds: str, int, float, bool, path, secret, optstr.
_NONE = None
_KEYS: dict[str, tuple[str, Any]] = {
    "meter.unitid": ("str", "smartmeter"),
    "meter.timezone": ("str", "Asia/Tokyo"),
    "broute.id": ("secret", _NONE),
    "broute.password": ("secret", _NONE),
    "serial.port": ("optstr", _NONE),
    "serial.baudrate": ("int", 115200),
    "serial.dongle": ("str", "auto"),
    "session.state_dir": ("path", "./state"),
    "session.scan_duration_min": ("int", 4),
    "session.scan_duration_max": ("int", 8),
    "session.max_epcs_per_get": ("int", 6),
    "session.request_timeout_s": ("float", 10),
    "session.retries": ("int", 3),
    "session.backfill": ("bool", True),
    "session.terminate_on_stop": ("bool", True),
    "session.silence_rejoin_s": ("float", 900.0),
    "csv.enabled": ("bool", True),
    "csv.directory": ("path", "./data"),
    "csv.filename": ("str", "%Y%m%d-smartmeter.csv"),
    "influxdb.enabled": ("bool", False),
    "influxdb.url": ("optstr", _NONE),
    "influxdb.token": ("secret", _NONE),
    "influxdb.org": ("optstr", _NONE),
    "influxdb.bucket": ("optstr", _NONE),
    "influxdb.batch_size": ("int", 500),
    "influxdb.flush_interval_s": ("float", 1),
    "influxdb.spool_dir": ("optpath", _NONE),
    "health.heartbeat_file": ("optpath", _NONE),
    "health.stale_after_cycles": ("int", 6),
    "health.http": ("optstr", _NONE),
    "logging.level": ("str", "INFO"),
}
_TOP_LEVEL_EXTRA = ("schedule", "acquisition", "sensors")

_ENV: dict[str, str] = {
    "BROUTE_ID": "broute.id",
    "BROUTE_PASSWORD": "broute.password",
    "SERIAL_PORT": "serial.port",
    "INFLUXDB_ENABLED": "influxdb.enabled",
    "INFLUXDB_URL": "influxdb.url",
    "INFLUXDB_TOKEN": "influxdb.token",
    "INFLUXDB_ORG": "influxdb.org",
    "INFLUXDB_BUCKET": "influxdb.bucket",
    "LOGGER_TIMEZONE": "meter.timezone",
    "LOGGER_UNITID": "meter.unitid",
    "CSV_DIR": "csv.directory",
    "STATE_DIR": "session.state_dir",
}
_KEY_TO_ENV = {v: k for k, v in _ENV.items()}


def _fix(key: str) -> str:
    env = _KEY_TO_ENV.get(key)
    if env:
        return f"set {env} in .env"
    return f"fix {key} in settings.yml"


@dataclass(frozen=True)
class MeterSettings:
    unitid: str
    timezone: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class BrouteSettings:
    id: Secret | None
    password: Secret | None


@dataclass(frozen=True)
class SerialSettings:
    port: str | None
    baudrate: int
    dongle: str


@dataclass(frozen=True)
class SessionSettings:
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
    enabled: bool
    directory: Path
    filename: str


@dataclass(frozen=True)
class InfluxSettings:
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
    heartbeat_file: Path
    stale_after_cycles: int
    http: str | None


@dataclass(frozen=True)
class LoggingSettings:
    level: str


@dataclass(frozen=True)
class Settings:
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
                raise ConfigError(key, "missing (needed to talk to the meter)", _fix(key))


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, Path):
        return str(value)
    return value


# --------------------------------------------------------------------------- loading


def load_settings(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    dotenv: str | os.PathLike[str] | None = ".env",
    check_dirs: bool = True,
) -> Settings:
    """Load and validate settings.

    ``path``: settings.yml; ``None`` uses ``config/settings.yml`` when it exists (else defaults only).
    ``env``: the environment (default ``os.environ``); ``dotenv``: a ``.env`` file read if it exists,
    ``None`` to skip. ``check_dirs``: verify the directories in use are writable (creatable).
    """
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    source: Path | None = None
    if path is None:
        if DEFAULT_CONFIG_PATH.is_file():
            source = DEFAULT_CONFIG_PATH
    else:
        source = Path(path)
        if not source.is_file():
            raise ConfigError("config", f"settings file {source} not found",
                              "pass an existing file with --config or create it from config/settings.yml")
    if source is not None:
        raw = _read_yaml(source)

    flat, schedule_raw, acquisition_raw = _flatten(raw)
    values: dict[str, Any] = {key: default for key, (_kind, default) in _KEYS.items()}
    for key, value in flat.items():
        values[key] = _coerce(key, value, from_env=False)

    merged_env: dict[str, str] = {}
    if dotenv is not None and Path(dotenv).is_file():
        from dotenv import dotenv_values

        merged_env.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    merged_env.update({k: v for k, v in env.items() if k in _ENV or k == "DEBUG"})
    for name, key in _ENV.items():
        if name in merged_env and merged_env[name] != "":
            values[key] = _coerce(key, merged_env[name], from_env=True)
    if _truthy(merged_env.get("DEBUG", "")):
        values["logging.level"] = "DEBUG"

    settings = _build(values, _schedule(schedule_raw, acquisition_raw), source)
    try:
        sensors = parse_sensors(raw.get("sensors"))
    except SensorConfigError as exc:
        raise ConfigError(exc.key, exc.problem, exc.fix) from None
    if sensors:
        settings = replace(settings, sensors=sensors)
    if check_dirs:
        _check_dirs(settings)
    return settings


def _read_yaml(source: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError("config", f"{source} is not valid YAML{where}", "fix the YAML syntax") from None
    except OSError as exc:
        raise ConfigError("config", f"cannot read {source}: {exc.strerror}", "check the path and permissions") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("config", f"{source} must contain a mapping of sections", "see config/settings.yml")
    return data


def _flatten(raw: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
    sections = {k.split(".")[0] for k in _KEYS}
    valid = sorted(set(_KEYS) | sections | set(_TOP_LEVEL_EXTRA))
    flat: dict[str, Any] = {}
    for name, body in raw.items():
        name = str(name)
        if name in _TOP_LEVEL_EXTRA:
            continue
        if name not in sections:
            raise _unknown(name, valid)
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ConfigError(name, f"must be a mapping of keys (got {type(body).__name__})",
                              f"fix {name} in settings.yml")
        for sub, value in body.items():
            key = f"{name}.{sub}"
            if key not in _KEYS:
                raise _unknown(key, valid)
            flat[key] = value
    return flat, raw.get("schedule"), raw.get("acquisition")


def _unknown(key: str, valid: list[str]) -> ConfigError:
    import difflib  # only for this message

    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    fix = f"did you mean {close[0]}?" if close else "remove it (see config/settings.yml for valid keys)"
    return ConfigError(key, "unknown key", fix)


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def _coerce(key: str, value: Any, from_env: bool) -> Any:
    kind = _KEYS[key][0]
    fix = _fix(key)
    if value is None:
        if kind in ("optstr", "secret", "optpath"):
            return None
        raise ConfigError(key, "must not be empty", fix)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if from_env and isinstance(value, str):
            low = value.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
        raise ConfigError(key, f"must be true or false (got {_kind_of(value)})", fix)
    if kind == "int":
        if from_env and isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"must be a whole number (got {_kind_of(value)})", fix)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, f"must be a number (got {_kind_of(value)})", fix)
        return float(value)
    if kind == "secret":
        if not isinstance(value, str):
            # Never echo the value, not even its type's repr.
            raise ConfigError(key, "must be a string", f"{fix} (quote it in YAML)")
        return Secret(value.strip())
    if not isinstance(value, str):
        raise ConfigError(key, f"must be a string (got {_kind_of(value)})", fix)
    return value.strip()


def _kind_of(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)


def _build(v: dict[str, Any], schedule: tuple[ScheduleEntry, ...], source: Path | None) -> Settings:
    def positive(key: str, minimum: float = 1) -> None:
        if v[key] < minimum:
            raise ConfigError(key, f"must be at least {minimum:g} (got {v[key]:g})", _fix(key))

    if not v["meter.unitid"] or re.search(r"[\s,\"]", v["meter.unitid"]):
        raise ConfigError("meter.unitid", "must be non-empty, without spaces, commas or quotes", _fix("meter.unitid"))
    try:
        ZoneInfo(v["meter.timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("meter.timezone", f"unknown time zone {v['meter.timezone']!r}",
                          "use an IANA name such as Asia/Tokyo; " + _fix("meter.timezone")) from None

    rbid: Secret | None = v["broute.id"]
    if rbid is not None and not re.fullmatch(r"[0-9A-Za-z]{32}", rbid.reveal()):
        n = len(rbid)
        what = f"must be 32 characters (got {n})" if n != 32 else "must contain only letters and digits"
        raise ConfigError("broute.id", what, "copy the ID from the utility's letter; " + _fix("broute.id"))
    pwd: Secret | None = v["broute.password"]
    if pwd is not None:
        if len(pwd) != 12:
            raise ConfigError("broute.password", f"must be 12 characters (got {len(pwd)})", _fix("broute.password"))
        if not re.fullmatch(r"[\x21-\x7e]{12}", pwd.reveal()):
            raise ConfigError("broute.password", "must contain only printable ASCII without spaces",
                              _fix("broute.password"))
    if v["serial.port"] == "":
        v["serial.port"] = None
    positive("serial.baudrate", 1200)
    if v["serial.dongle"].lower() not in DONGLES:
        raise ConfigError("serial.dongle", f"unknown dongle {v['serial.dongle']!r}",
                          f"use one of {', '.join(DONGLES)}")
    for key in ("session.scan_duration_min", "session.scan_duration_max"):
        if not 0 <= v[key] <= 14:
            raise ConfigError(key, f"must be 0..14 (got {v[key]})", _fix(key))
    if v["session.scan_duration_min"] > v["session.scan_duration_max"]:
        raise ConfigError("session.scan_duration_min", "must not exceed session.scan_duration_max",
                          "fix session.scan_duration_min in settings.yml")
    if not 1 <= v["session.max_epcs_per_get"] <= 16:
        raise ConfigError("session.max_epcs_per_get", f"must be 1..16 (got {v['session.max_epcs_per_get']})",
                          _fix("session.max_epcs_per_get"))
    positive("session.request_timeout_s")
    positive("session.retries", 0)
    positive("session.silence_rejoin_s", 0)
    if "%" not in v["csv.filename"] or "/" in v["csv.filename"]:
        raise ConfigError("csv.filename", "must be a file name with a date pattern such as %Y%m%d, no '/'",
                          _fix("csv.filename"))
    positive("influxdb.batch_size")
    positive("influxdb.flush_interval_s", 0.1)
    positive("health.stale_after_cycles")
    if v["health.http"] is not None and v["health.http"] != "":
        m = re.fullmatch(r"(.+):(\d{1,5})", v["health.http"])
        if not m or not 0 < int(m.group(2)) < 65536:
            raise ConfigError("health.http", f"must be host:port such as 127.0.0.1:8000 (got {v['health.http']!r})",
                              _fix("health.http"))
    else:
        v["health.http"] = None
    level = v["logging.level"].upper()
    if level not in LOG_LEVELS:
        raise ConfigError("logging.level", f"unknown level {v['logging.level']!r}", f"use one of {', '.join(LOG_LEVELS)}")

    if v["influxdb.enabled"]:
        for key in ("influxdb.url", "influxdb.token", "influxdb.org", "influxdb.bucket"):
            if v[key] is None or v[key] == "" or (isinstance(v[key], Secret) and not v[key].reveal()):
                raise ConfigError(key, "missing while influxdb.enabled is true",
                                  _fix(key) + " (or set influxdb.enabled: false)")
        if not re.match(r"https?://", v["influxdb.url"]):
            raise ConfigError("influxdb.url", f"must start with http:// or https:// (got {v['influxdb.url']!r})",
                              _fix("influxdb.url"))

    state_dir = Path(v["session.state_dir"])
    return Settings(
        meter=MeterSettings(unitid=v["meter.unitid"], timezone=v["meter.timezone"]),
        broute=BrouteSettings(id=rbid, password=pwd),
        serial=SerialSettings(port=v["serial.port"], baudrate=v["serial.baudrate"],
                              dongle=v["serial.dongle"].lower()),
        session=SessionSettings(
            state_dir=state_dir,
            scan_duration_min=v["session.scan_duration_min"],
            scan_duration_max=v["session.scan_duration_max"],
            max_epcs_per_get=v["session.max_epcs_per_get"],
            request_timeout_s=v["session.request_timeout_s"],
            retries=v["session.retries"],
            backfill=v["session.backfill"],
            terminate_on_stop=v["session.terminate_on_stop"],
            silence_rejoin_s=v["session.silence_rejoin_s"],
        ),
        schedule=schedule,
        csv=CsvSettings(enabled=v["csv.enabled"], directory=Path(v["csv.directory"]), filename=v["csv.filename"]),
        influxdb=InfluxSettings(
            enabled=v["influxdb.enabled"],
            url=v["influxdb.url"] or None,
            token=v["influxdb.token"],
            org=v["influxdb.org"] or None,
            bucket=v["influxdb.bucket"] or None,
            batch_size=v["influxdb.batch_size"],
            flush_interval_s=v["influxdb.flush_interval_s"],
            spool_dir=Path(v["influxdb.spool_dir"]) if v["influxdb.spool_dir"] else state_dir / "spool",
        ),
        health=HealthSettings(
            heartbeat_file=Path(v["health.heartbeat_file"]) if v["health.heartbeat_file"] else state_dir / "heartbeat",
            stale_after_cycles=v["health.stale_after_cycles"],
            http=v["health.http"],
        ),
        logging=LoggingSettings(level=level),
        source=source,
    )


# --------------------------------------------------------------------------- schedule


def _epc(key: str, item: Any) -> int:
    text = f"{item:02X}" if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < 256 else str(item)
    if not re.fullmatch(r"(0[xX])?[0-9A-Fa-f]{2}", text.strip()):
        raise ConfigError(key, f"{text!r} is not an EPC (two hex digits such as E7)",
                          "write EPCs as two hex digits in quotes, e.g. [\"E7\", \"E8\"]")
    epc = int(text.strip()[-2:], 16)
    if epc not in MIN_CYCLE_S:
        allowed = ", ".join(f"{e:02X}" for e in sorted(MIN_CYCLE_S))
        raise ConfigError(key, f"{epc:02X} is not a meter property this logger records", f"use one of {allowed}")
    return epc


def _epcs(key: str, value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ConfigError(key, "needs at least one EPC", "list EPCs such as [\"E7\"]")
    return tuple(_epc(key, item) for item in items)


def _check_cycle(key: str, epcs: tuple[int, ...], cycle: int) -> None:
    for epc in epcs:
        minimum = MIN_CYCLE_S[epc]
        if cycle < minimum:
            raise ConfigError(key, f"{cycle} s is below the minimum of {minimum} s for {epc:02X}",
                              f"use a cycle of at least {minimum} s (the B-route has a transmit budget)")


def _cycle_value(key: str, value: Any) -> int | None:
    if value == "start":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(key, f"must be a positive number of seconds or \"start\" (got {value!r})",
                          "fix it in settings.yml")
    return value


def _schedule(schedule_raw: Any, acquisition_raw: Any) -> tuple[ScheduleEntry, ...]:
    if schedule_raw is not None and acquisition_raw is not None:
        raise ConfigError("acquisition", "both schedule and acquisition are given",
                          "keep only one of them in settings.yml")
    if schedule_raw is None and acquisition_raw is None:
        return DEFAULT_ENTRIES
    if acquisition_raw is not None:
        if not isinstance(acquisition_raw, dict):
            raise ConfigError("acquisition", "must be a mapping with interval_seconds and properties",
                              "see config/settings.yml")
        for sub in acquisition_raw:
            if sub not in ("interval_seconds", "properties"):
                raise _unknown(f"acquisition.{sub}", ["acquisition.interval_seconds", "acquisition.properties"])
        if "properties" not in acquisition_raw or "interval_seconds" not in acquisition_raw:
            raise ConfigError("acquisition", "needs interval_seconds and properties",
                              "e.g. acquisition: {interval_seconds: 30, properties: [E7, E8]}")
        epcs = _epcs("acquisition.properties", acquisition_raw["properties"])
        cycle = _cycle_value("acquisition.interval_seconds", acquisition_raw["interval_seconds"])
        if cycle is None:
            raise ConfigError("acquisition.interval_seconds", "must be a number of seconds", "fix it in settings.yml")
        _check_cycle("acquisition.interval_seconds", epcs, cycle)
        return (ScheduleEntry(epcs, cycle),)
    if not isinstance(schedule_raw, list) or not schedule_raw:
        raise ConfigError("schedule", "must be a non-empty list of {epc: [...], cycle: N}", "see config/settings.yml")
    entries = []
    for i, item in enumerate(schedule_raw):
        key = f"schedule[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(key, "must be a mapping like {epc: [E7], cycle: 10}", "see config/settings.yml")
        for sub in item:
            if sub not in ("epc", "cycle", "at_start"):
                raise _unknown(f"{key}.{sub}", [f"{key}.epc", f"{key}.cycle", f"{key}.at_start"])
        if "epc" not in item:
            raise ConfigError(f"{key}.epc", "missing", "list the EPCs to read, e.g. epc: [E7]")
        epcs = _epcs(f"{key}.epc", item["epc"])
        at_start = item.get("at_start", False)
        if not isinstance(at_start, bool):
            raise ConfigError(f"{key}.at_start", "must be true or false", "fix it in settings.yml")
        if "cycle" not in item and not at_start:
            raise ConfigError(f"{key}.cycle", "missing", "give a cycle in seconds or \"start\"")
        cycle = _cycle_value(f"{key}.cycle", item["cycle"]) if "cycle" in item else None
        if cycle is not None:
            _check_cycle(f"{key}.cycle", epcs, cycle)
        entries.append(ScheduleEntry(epcs, cycle, at_start=at_start or cycle is None))
    return tuple(entries)


# --------------------------------------------------------------------------- directories


def _check_dirs(settings: Settings) -> None:
    checks = [("session.state_dir", settings.session.state_dir)]
    if settings.csv.enabled:
        checks.append(("csv.directory", settings.csv.directory))
    if settings.influxdb.enabled:
        checks.append(("influxdb.spool_dir", settings.influxdb.spool_dir))
    checks.append(("health.heartbeat_file", settings.health.heartbeat_file.parent))
    for key, directory in checks:
        problem = _unwritable(directory)
        if problem:
            raise ConfigError(key, problem, f"make it writable for this user or point {key} elsewhere ("
                                            + (f"{_KEY_TO_ENV[key]} or settings.yml)" if key in _KEY_TO_ENV
                                               else "settings.yml)"))


def _unwritable(directory: Path) -> str | None:
    """None when ``directory`` is writable or could be created, else what is wrong."""
    probe = directory
    while not probe.exists():
        parent = probe.parent
        if parent == probe:
            break
        probe = parent
    if probe.exists() and not probe.is_dir():
        return f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        if probe == directory:
            return f"directory {directory} is not writable"
        return f"cannot create {directory}: {probe} is not writable"
    return None
