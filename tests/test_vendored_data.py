"""The reference data under tests/data loads, is what the tests expect, and has not drifted from
the project's shared copies when those sit next to the checkout."""

from __future__ import annotations

import json
from pathlib import Path

from datafiles import CAPTURED, COMPOSE_SCHEMA, captured_entries

SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_captured_fixtures_hold_every_kind_the_tests_use():
    entries = captured_entries()
    kinds = {e["kind"] for e in entries}
    assert {"erxudp", "epandesc", "event"} <= kinds
    assert all("raw" in e and "expected" in e for e in entries)


def test_compose_schema_is_the_compose_specification():
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    assert "services" in schema["properties"] and "definitions" in schema


def test_vendored_copies_equal_the_shared_ones_when_present():
    pairs = [(CAPTURED, SHARED / "fixtures" / "captured.json"),
             (COMPOSE_SCHEMA, SHARED / "schemas" / "compose-spec.json")]
    compared = 0
    for vendored, shared in pairs:
        assert vendored.is_file(), f"{vendored} missing: restore it from git"
        if shared.is_file():
            assert vendored.read_bytes() == shared.read_bytes(), f"{vendored} differs from {shared}: copy it again"
            compared += 1
    assert compared in (0, len(pairs))  # either no shared tree next to the checkout, or both files in it
