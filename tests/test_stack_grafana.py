"""Grafana provisioning and the dashboard JSON, checked structurally (Grafana itself cannot run
here; every panel's Flux query runs against the real influxd in
tests/integration/test_grafana_queries.py)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent / "integration"))

from services import (  # noqa: E402
    GRAFANA_DASHBOARD_DIR,
    REPO,
    load_compose,
    parse_volume,
    read_env_file,
    render_grafana_dashboards,
)

GRAFANA = REPO / "grafana"


@pytest.fixture(scope="module")
def datasource() -> dict:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "influxdb.yml").read_text())
    assert doc["apiVersion"] == 1
    assert len(doc["datasources"]) == 1
    return doc["datasources"][0]


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads((GRAFANA / "dashboards" / "smartmeter.json").read_text())


def test_datasource_is_influxdb_flux_from_the_environment(datasource):
    assert datasource["type"] == "influxdb"
    assert datasource["jsonData"]["version"] == "Flux"
    assert datasource["url"] == "${INFLUXDB_URL}"
    assert datasource["jsonData"]["organization"] == "${INFLUXDB_ORG}"
    assert datasource["jsonData"]["defaultBucket"] == "${INFLUXDB_BUCKET}"
    assert datasource["secureJsonData"]["token"] == "${INFLUXDB_TOKEN}"  # never a literal token
    env = load_compose()["services"]["grafana"]["environment"]
    for name in ("INFLUXDB_URL", "INFLUXDB_ORG", "INFLUXDB_BUCKET", "INFLUXDB_TOKEN"):
        assert name in env, f"grafana service does not pass {name}"


def test_provisioning_paths_match_the_compose_mounts():
    grafana = load_compose()["services"]["grafana"]
    mounts = {t: (s, ro) for s, t, ro in map(parse_volume, grafana["volumes"])}
    assert mounts["/etc/grafana/provisioning"] == ("./grafana/provisioning", True)
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "smartmeter.yml").read_text())
    (prov,) = provider["providers"]
    assert prov["type"] == "file"
    assert prov["options"]["path"] == GRAFANA_DASHBOARD_DIR
    assert GRAFANA_DASHBOARD_DIR in grafana["command"][0]
    # the provider's path lives in the grafana-data volume, which Grafana can write
    assert GRAFANA_DASHBOARD_DIR.startswith(next(t for t, (s, _) in mounts.items() if s == "grafana-data"))


def test_dashboard_structure(dashboard, datasource):
    assert dashboard["uid"] == "smartmeter"
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"Power now", "Today", "This month", "Cost estimate", "Power", "Usage per half hour",
            "Import vs export (energy)", "Import vs export (power)", "Current R / T"} <= titles
    occupied = set()
    for p in dashboard["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
        cells = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & occupied, f"panel {p['title']!r} overlaps another"
        occupied |= cells
        assert p["type"] in {"stat", "timeseries"}
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["datasource"]["uid"] == datasource["uid"]
            assert 'from(bucket: "${bucket}")' in t["query"]
            assert 'r._measurement == "smartmeter"' in t["query"]


def test_every_variable_a_query_uses_is_defined(dashboard):
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    assert defined == {"bucket", "unitid", "unit_price"}
    texts = [t["query"] for p in dashboard["panels"] for t in p["targets"]]
    texts += [v["query"] for v in dashboard["templating"]["list"]]
    used = {m for text in texts for m in re.findall(r"\$\{(\w+)\}", text)}
    assert used <= defined
    assert "unit_price" in used


def test_unit_price_comes_from_env_when_grafana_starts(tmp_path):
    env = read_env_file(REPO / ".env.example")
    rendered = json.loads(render_grafana_dashboards(tmp_path, {**env, "UNIT_PRICE_JPY_PER_KWH": "36.4"}).read_text())
    price = next(v for v in rendered["templating"]["list"] if v["name"] == "unit_price")
    assert price["query"] == price["current"]["value"] == "36.4"
    assert "__UNIT_PRICE__" not in json.dumps(rendered)
    default = json.loads(render_grafana_dashboards(tmp_path / "d", {}).read_text())
    assert next(v for v in default["templating"]["list"] if v["name"] == "unit_price")["query"] == "31"
