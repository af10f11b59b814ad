"""Are the directories the settings use writable (or creatable)? Part of :mod:`logger.config`.

Nothing is created: the check only looks (``os.access``) so a config error leaves no trace.
"""

from __future__ import annotations

import os
from pathlib import Path

from logger.config_keys import KEY_TO_ENV, ConfigError
from logger.typehints import TYPE_CHECKING

if TYPE_CHECKING:
    from logger.config_model import Settings


def check_directories(settings: Settings) -> None:
    """:class:`ConfigError` naming the key of the first directory in use that cannot be written or created."""
    checks = [("session.state_dir", settings.session.state_dir)]
    if settings.csv.enabled:
        checks.append(("csv.directory", settings.csv.directory))
    if settings.influxdb.enabled:
        checks.append(("influxdb.spool_dir", settings.influxdb.spool_dir))
    checks.append(("health.heartbeat_file", settings.health.heartbeat_file.parent))
    for key, directory in checks:
        problem = unwritable(directory)
        if problem:
            raise ConfigError(key, problem, f"make it writable for this user or point {key} elsewhere ("
                                            + (f"{KEY_TO_ENV[key]} or settings.yml)" if key in KEY_TO_ENV
                                               else "settings.yml)"))


def existing_ancestor(directory: Path) -> Path:
    """``directory`` itself when it exists, else its nearest existing parent (where it would be created)."""
    probe = directory
    while not probe.exists():
        parent = probe.parent
        if parent == probe:
            break
        probe = parent
    return probe


def unwritable(directory: Path) -> str | None:
    """None when ``directory`` is writable or could be created, else what is wrong."""
    probe = existing_ancestor(directory)
    if probe.exists() and not probe.is_dir():
        return f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        if probe == directory:
            return f"directory {directory} is not writable"
        return f"cannot create {directory}: {probe} is not writable"
    return None
