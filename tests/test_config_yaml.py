"""settings.yml is parsed by PyYAML in a forked child (logger/config_yaml.py): the same data as
``yaml.safe_load``, invalid YAML named with its line, and the logger process never imports yaml
(about 1.8 MB of resident memory it would keep for a file read once)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from logger.config import ConfigError, load_settings
from logger.config_yaml import YamlError, parse_yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text", [
    "",
    "meter:\n  unitid: home\n  timezone: Asia/Tokyo\n",
    "schedule:\n  - {epc: [E7, E8], cycle: 10}\n  - {epc: [EA], cycle: 1800, at_start: true}\n",
    "a: 1.5\nb: .inf\nc: null\nd: [yes, no, ~]\ne: !!binary aGVsbG8=\nf: !!set {x, y}\n1: one\n",
    "anchors:\n  base: &b {x: 1}\n  copy: *b\n",
    "text: 日本語のラベル\n",
])
def test_the_same_data_as_safe_load(text):
    assert parse_yaml(text) == yaml.safe_load(text)


def test_dates_come_back_as_their_iso_text():
    # no setting takes a date: the validators then name the text like any wrong value
    assert parse_yaml("day: 2026-12-01\nat: 2026-12-01 09:30:00\n") == {"day": "2026-12-01",
                                                                          "at": "2026-12-01T09:30:00"}


@pytest.mark.parametrize("text, line", [("meter:\n  unitid: [oops\n", 3), ("a: 1\n b: 2\n", 2), ("x: [&a, *a\n", 2)])
def test_invalid_yaml_names_the_line(text, line):
    with pytest.raises(YamlError) as info:
        parse_yaml(text)
    assert info.value.line is not None and abs(info.value.line - line) <= 1


def test_a_recursive_alias_is_an_error_not_a_hang(tmp_path):
    path = tmp_path / "settings.yml"
    path.write_text("meter: &m [*m]\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.key == "config" and "not valid YAML" in info.value.problem


def test_a_file_that_is_not_utf8_is_a_clear_config_error(tmp_path):
    path = tmp_path / "settings.yml"
    path.write_bytes(b"meter:\n  unitid: \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.key == "config" and "not UTF-8" in info.value.problem and info.value.fix


def test_without_fork_it_parses_in_process(monkeypatch):
    monkeypatch.delattr("os.fork")
    assert parse_yaml("meter: {unitid: x}\n") == {"meter": {"unitid": "x"}}
    with pytest.raises(YamlError):
        parse_yaml("a: [\n")


def test_the_logger_process_never_imports_yaml(tmp_path):
    """What ``run --config config/settings.yml`` loads, in a fresh interpreter: the shipped file's
    settings, and no yaml module in the process afterwards."""
    code = ("import sys, json; from logger.config import load_settings; s = load_settings(sys.argv[1]); "
            "print(json.dumps({'yaml': sorted(m for m in sys.modules if m == 'yaml' or m.startswith(('yaml.', '_yaml'))), "
            "'unitid': s.meter.unitid, 'entries': len(s.schedule)}))")
    out = subprocess.run([sys.executable, "-c", code, str(REPO / "config" / "settings.yml")], capture_output=True,
                         text=True, check=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    result = json.loads(out.stdout)
    assert result["yaml"] == []
    expected = yaml.safe_load((REPO / "config" / "settings.yml").read_text())
    assert result["unitid"] == expected["meter"]["unitid"] and result["entries"] == len(expected["schedule"])
