"""The settings keys: kinds, defaults, environment names, and turning raw values into typed ones.

Part of :mod:`logger.config` (which documents the keys for users). :class:`ConfigError` lives
here so every settings module can raise it without importing :mod:`logger.config`.
"""

from __future__ import annotations

import re

from logger.link.settings import LinkSettings
from logger.secrets import Secret
from logger.typehints import Any


class ConfigError(Exception):
    """A setting is missing or wrong. ``key`` is the dotted key, ``fix`` how to put it right."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__(key, problem, fix)
        self.key = key
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"config error: {self.key}: {self.problem}; {self.fix}"


# dotted key -> (kind, default). Kinds: str, int, float, bool, path, optpath, secret, optstr.
#: the link's own defaults (dongle, scan durations) live in LinkSettings; every other default is in KEYS
_LINK = LinkSettings()
KEYS: dict[str, tuple[str, Any]] = {
    "meter.unitid": ("str", "smartmeter"),
    "meter.timezone": ("str", "Asia/Tokyo"),
    "meter.clock_tolerance_s": ("float", 90.0),
    "broute.id": ("secret", None),
    "broute.password": ("secret", None),
    "serial.port": ("optstr", None),
    "serial.baudrate": ("int", 115200),
    "serial.dongle": ("str", _LINK.dongle),
    "session.state_dir": ("path", "./state"),
    "session.scan_duration_min": ("int", _LINK.scan_duration_min),
    "session.scan_duration_max": ("int", _LINK.scan_duration_max),
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
    "influxdb.url": ("optstr", None),
    "influxdb.token": ("secret", None),
    "influxdb.org": ("optstr", None),
    "influxdb.bucket": ("optstr", None),
    "influxdb.batch_size": ("int", 500),
    "influxdb.flush_interval_s": ("float", 1),
    "influxdb.spool_dir": ("optpath", None),
    "health.heartbeat_file": ("optpath", None),
    "health.stale_after_cycles": ("int", 6),
    "health.http": ("optstr", None),
    "web.listen": ("optstr", None),
    "logging.level": ("str", "INFO"),
}
#: top-level sections that are not plain key/value sections
TOP_LEVEL_EXTRA = ("schedule", "acquisition", "sensors")

#: environment variable -> dotted key
ENV_VARS: dict[str, str] = {
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
    "WEB_LISTEN": "web.listen",
}
KEY_TO_ENV = {v: k for k, v in ENV_VARS.items()}


def fix_for(key: str) -> str:
    """Where ``key`` is set: its environment variable in ``.env``, else settings.yml."""
    env = KEY_TO_ENV.get(key)
    if env:
        return f"set {env} in .env"
    return f"fix {key} in settings.yml"


def unknown_key(key: str, valid: list[str]) -> ConfigError:
    import difflib  # only for this message

    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    fix = f"did you mean {close[0]}?" if close else "remove it (see config/settings.yml for valid keys)"
    return ConfigError(key, "unknown key", fix)


def truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def coerce(key: str, value: Any, from_env: bool) -> Any:
    """``value`` (from YAML, or text from the environment) as ``key``'s kind, or :class:`ConfigError`."""
    kind = KEYS[key][0]
    fix = fix_for(key)
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
