"""Settings: built-in defaults < ``settings.yml`` < ``.env`` < environment, validated.

``load_settings()`` returns frozen dataclasses or raises :class:`ConfigError`, whose
``str()`` names the key, the problem and the fix, e.g.
``config error: serial.baudrate: must be a whole number (got text); fix serial.baudrate in settings.yml``.
Commands turn a ``ConfigError`` into exit code 2. Secret values are wrapped in
:class:`~logger.secrets.Secret` and never appear in errors, reprs or ``redacted()``.

Environment variables (also read from ``.env``, which never overrides the real environment):

==================  =========================  ==================================================
variable            key                        meaning
==================  =========================  ==================================================
BROUTE_ID           broute.id                  B-route authentication ID (32 letters/digits)
BROUTE_PASSWORD     broute.password            B-route password (12 letters/digits)
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
WEB_LISTEN          web.listen                 ``host:port`` of the live page (``run --web``)
DEBUG               logging.level              ``1``/``true`` sets the level to DEBUG
==================  =========================  ==================================================

Relative paths are relative to the working directory. ``influxdb.spool_dir`` and
``health.heartbeat_file`` default to ``<state_dir>/spool`` and ``<state_dir>/heartbeat``.

The B-route credentials follow :mod:`logger.skstack.credentials` (the rule the command builder
uses too); ``serial.dongle`` is ``auto`` or a name from :mod:`logger.skstack.families`.
This module loads and validates; the pieces live in :mod:`logger.config_keys` (keys, kinds,
environment names), :mod:`logger.config_model` (the dataclasses), :mod:`logger.config_schedule`
and :mod:`logger.config_dirs`; the names other code imports from here (``ConfigError``, the
settings classes, ``load_settings``) stay importable from here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logger.config_dirs import check_directories
from logger.config_keys import (
    ENV_VARS,
    KEY_TO_ENV,
    KEYS,
    TOP_LEVEL_EXTRA,
    ConfigError,
    coerce,
    fix_for,
    truthy,
    unknown_key,
)
from logger.config_model import (
    BrouteSettings,
    CsvSettings,
    HealthSettings,
    InfluxSettings,
    LoggingSettings,
    MeterSettings,
    SerialSettings,
    SessionSettings,
    Settings,
    WebSettings,
)
from logger.config_schedule import parse_schedule
from logger.schedule import ScheduleEntry
from logger.secrets import Secret
from logger.sensors import SensorConfigError, parse_sensors
from logger.skstack.credentials import CredentialError, check_password, check_rbid
from logger.skstack.families import DONGLE_CHOICES, family, normalise
from logger.typehints import Any

__all__ = [
    "DEFAULT_CONFIG_PATH", "ENV_VARS", "KEYS", "KEY_TO_ENV", "LOG_LEVELS", "BrouteSettings", "ConfigError",
    "CsvSettings", "HealthSettings", "InfluxSettings", "LoggingSettings", "MeterSettings", "SerialSettings",
    "SessionSettings", "Settings", "WebSettings", "listen_address", "load_settings",
]

DEFAULT_CONFIG_PATH = Path("config/settings.yml")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: the old private name (tests and tools import it)
_ENV = ENV_VARS


def environment(env: Mapping[str, str] | None = None,
                dotenv: str | os.PathLike[str] | None = ".env") -> dict[str, str]:
    """The variables the logger reads (and ``DEBUG``): ``.env`` when it exists, overridden by ``env``
    (default ``os.environ``). The one place ``.env`` is read (``run``, ``doctor``, ``simulate``)."""
    env = os.environ if env is None else env
    merged: dict[str, str] = {}
    if dotenv is not None and Path(dotenv).is_file():
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(dotenv).items()
                       if v is not None and (k in ENV_VARS or k == "DEBUG")})
    merged.update({k: v for k, v in env.items() if k in ENV_VARS or k == "DEBUG"})
    return merged


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
    values: dict[str, Any] = {key: default for key, (_kind, default) in KEYS.items()}
    for key, value in flat.items():
        values[key] = coerce(key, value, from_env=False)

    merged_env = environment(env, dotenv)
    for name, key in ENV_VARS.items():
        if name in merged_env and merged_env[name] != "":
            values[key] = coerce(key, merged_env[name], from_env=True)
    if truthy(merged_env.get("DEBUG", "")):
        values["logging.level"] = "DEBUG"

    settings = _build(values, parse_schedule(schedule_raw, acquisition_raw), source)
    try:
        sensors = parse_sensors(raw.get("sensors"))
    except SensorConfigError as exc:
        raise ConfigError(exc.key, exc.problem, exc.fix) from None
    if sensors:
        settings = replace(settings, sensors=sensors)
    if check_dirs:
        check_directories(settings)
    return settings


def _read_yaml(source: Path) -> dict[str, Any]:
    from logger.config_yaml import (  # PyYAML runs in a child: never imported here
        YamlError,
        parse_yaml,
    )

    try:
        data = parse_yaml(source.read_text(encoding="utf-8"))
    except YamlError as exc:
        where = f" at line {exc.line}" if exc.line is not None else ""
        raise ConfigError("config", f"{source} is not valid YAML{where}", "fix the YAML syntax") from None
    except UnicodeDecodeError:
        raise ConfigError("config", f"{source} is not UTF-8 text", "save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError("config", f"cannot read {source}: {exc.strerror}", "check the path and permissions") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("config", f"{source} must contain a mapping of sections", "see config/settings.yml")
    return data


def _flatten(raw: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
    sections = {k.split(".")[0] for k in KEYS}
    valid = sorted(set(KEYS) | sections | set(TOP_LEVEL_EXTRA))
    flat: dict[str, Any] = {}
    for name, body in raw.items():
        name = str(name)
        if name in TOP_LEVEL_EXTRA:
            continue
        if name not in sections:
            raise unknown_key(name, valid)
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ConfigError(name, f"must be a mapping of keys (got {type(body).__name__})",
                              f"fix {name} in settings.yml")
        for sub, value in body.items():
            key = f"{name}.{sub}"
            if key not in KEYS:
                raise unknown_key(key, valid)
            flat[key] = value
    return flat, raw.get("schedule"), raw.get("acquisition")


def _build(v: dict[str, Any], schedule: tuple[ScheduleEntry, ...], source: Path | None) -> Settings:
    def positive(key: str, minimum: float = 1) -> None:
        if v[key] < minimum:
            raise ConfigError(key, f"must be at least {minimum:g} (got {v[key]:g})", fix_for(key))

    if not v["meter.unitid"] or re.search(r"[\s,\"]", v["meter.unitid"]):
        raise ConfigError("meter.unitid", "must be non-empty, without spaces, commas or quotes", fix_for("meter.unitid"))
    try:
        ZoneInfo(v["meter.timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("meter.timezone", f"unknown time zone {v['meter.timezone']!r}",
                          "use an IANA name such as Asia/Tokyo; " + fix_for("meter.timezone")) from None

    rbid = _credential("broute.id", v["broute.id"], check_rbid)
    pwd = _credential("broute.password", v["broute.password"], check_password)
    if v["serial.port"] == "":
        v["serial.port"] = None
    positive("serial.baudrate", 1200)
    dongle = _dongle(v["serial.dongle"])
    for key in ("session.scan_duration_min", "session.scan_duration_max"):
        if not 0 <= v[key] <= 14:
            raise ConfigError(key, f"must be 0..14 (got {v[key]})", fix_for(key))
    if v["session.scan_duration_min"] > v["session.scan_duration_max"]:
        raise ConfigError("session.scan_duration_min", "must not exceed session.scan_duration_max",
                          "fix session.scan_duration_min in settings.yml")
    if not 1 <= v["session.max_epcs_per_get"] <= 16:
        raise ConfigError("session.max_epcs_per_get", f"must be 1..16 (got {v['session.max_epcs_per_get']})",
                          fix_for("session.max_epcs_per_get"))
    positive("session.request_timeout_s")
    positive("session.retries", 0)
    positive("session.silence_rejoin_s", 0)
    positive("meter.clock_tolerance_s", 0)
    if "%" not in v["csv.filename"] or "/" in v["csv.filename"]:
        raise ConfigError("csv.filename", "must be a file name with a date pattern such as %Y%m%d, no '/'",
                          fix_for("csv.filename"))
    positive("influxdb.batch_size")
    positive("influxdb.flush_interval_s", 0.1)
    positive("health.stale_after_cycles")
    for key in ("health.http", "web.listen"):
        v[key] = listen_address(key, v[key], fix_for(key))
    level = v["logging.level"].upper()
    if level not in LOG_LEVELS:
        raise ConfigError("logging.level", f"unknown level {v['logging.level']!r}", f"use one of {', '.join(LOG_LEVELS)}")

    if v["influxdb.enabled"]:
        for key in ("influxdb.url", "influxdb.token", "influxdb.org", "influxdb.bucket"):
            if v[key] is None or v[key] == "" or (isinstance(v[key], Secret) and not v[key].reveal()):
                raise ConfigError(key, "missing while influxdb.enabled is true",
                                  fix_for(key) + " (or set influxdb.enabled: false)")
        if not re.match(r"https?://", v["influxdb.url"]):
            raise ConfigError("influxdb.url", f"must start with http:// or https:// (got {v['influxdb.url']!r})",
                              fix_for("influxdb.url"))

    state_dir = Path(v["session.state_dir"])
    return Settings(
        meter=MeterSettings(unitid=v["meter.unitid"], timezone=v["meter.timezone"],
                            clock_tolerance_s=v["meter.clock_tolerance_s"]),
        broute=BrouteSettings(id=rbid, password=pwd),
        serial=SerialSettings(port=v["serial.port"], baudrate=v["serial.baudrate"],
                              dongle=dongle),
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
        web=WebSettings(listen=v["web.listen"]),
        source=source,
    )


def listen_address(key: str, text: str | None, fix: str) -> str | None:
    """``host:port`` to listen on (``health.http``, ``web.listen``, ``run --web``), or None for
    empty; :class:`ConfigError` naming ``key`` otherwise. An IPv6 host is written in brackets."""
    if text is None or text.strip() == "":
        return None
    m = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):(\d{1,5})", text.strip())
    if not m or not 0 < int(m.group(2)) < 65536:
        raise ConfigError(key, f"must be host:port such as 127.0.0.1:8000 (got {text!r})", fix)
    return text.strip()


def _credential(key: str, value: Secret | None, check: Callable[[str], str]) -> Secret | None:
    """``value`` when unset or well-formed; else :class:`ConfigError` (lengths/positions only, never the value)."""
    if value is not None:
        try:
            check(value.reveal())
        except CredentialError as exc:
            raise ConfigError(key, exc.problem, f"{exc.fix}; {fix_for(key)}") from None
    return value


def _dongle(name: str) -> str:
    """``auto`` or the canonical family name for ``name`` (an alias such as bp35c2 included)."""
    if normalise(name) == "auto":
        return "auto"
    try:
        return family(name).name
    except ValueError:
        raise ConfigError("serial.dongle", f"unknown dongle {name!r}",
                          f"use one of {', '.join(DONGLE_CHOICES)}") from None
