"""The ``schedule:`` and ``acquisition:`` sections of settings.yml: which EPCs, how often.

Part of :mod:`logger.config`. Cycles below a property's minimum (:data:`logger.schedule.MIN_CYCLE_S`)
are refused: the B-route has a transmit budget.
"""

from __future__ import annotations

import re

from logger.config_keys import ConfigError, unknown_key
from logger.schedule import DEFAULT_ENTRIES, MIN_CYCLE_S, ScheduleEntry
from logger.typehints import Any


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


def parse_schedule(schedule_raw: Any, acquisition_raw: Any) -> tuple[ScheduleEntry, ...]:
    """The ``schedule:`` list or the ``acquisition:`` shorthand (at most one) as entries; defaults if neither."""
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
                raise unknown_key(f"acquisition.{sub}", ["acquisition.interval_seconds", "acquisition.properties"])
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
                raise unknown_key(f"{key}.{sub}", [f"{key}.epc", f"{key}.cycle", f"{key}.at_start"])
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
