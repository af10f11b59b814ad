"""Logging set-up shared by the commands: one stderr handler that masks every secret value."""

from __future__ import annotations

import logging
import sys

from logger.secrets import RedactingFilter

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"


def setup_logging(level: str, secrets: list[str]) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # third-party chatter stays at WARNING even in debug mode
    for name in ("urllib3", "influxdb_client", "reactivex"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
