"""Paths of the reference data vendored under ``tests/data`` (see its README)."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
CAPTURED = DATA / "captured.json"
COMPOSE_SCHEMA = DATA / "compose-spec.json"


def captured_entries() -> list[dict]:
    """Every entry of the captured fixtures (a missing file is an error, never a skip)."""
    return json.loads(CAPTURED.read_text(encoding="utf-8"))
