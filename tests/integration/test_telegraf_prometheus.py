"""The optional Prometheus endpoint (telegraf.d/prometheus.conf.example enabled as a user would:
copied to telegraf.d/prometheus.conf) on the REAL Telegraf, next to the InfluxDB output."""

from __future__ import annotations

import re
import urllib.request
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from logger.readings import Reading
from logger.sinks.csv_sink import CsvSink

from services import REPO, free_port, wait_until

JST = ZoneInfo("Asia/Tokyo")


def scrape(port: int) -> dict[str, float]:
    """``name{label="v",...}`` -> value for the smartmeter_* samples. Labels with an empty value are
    dropped (Prometheus treats an empty label as absent; Telegraf's collector may add dataid="")."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(r"(smartmeter_\w+)\{(.*)\} (\S+)", line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            key = m.group(1) + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if v) + "}"
            out[key] = float(m.group(3))
    return out


def test_prometheus_exports_power_current_and_energy_with_clear_names(influxdb, bucket, tmp_path, telegraf_factory):
    data, state = tmp_path / "data", tmp_path / "state"
    data.mkdir()
    state.mkdir()
    sink = CsvSink(data, "%Y%m%d-smartmeter.csv", JST)
    # recent times: the endpoint drops series whose reading is older than expiration_interval
    now = datetime.now(JST).replace(microsecond=0)
    old = now - timedelta(minutes=2)
    sink.write([Reading(old, "smartmeter", "E7", "", Decimal(999))])
    sink.flush()

    port = free_port()
    example = (REPO / "telegraf.d" / "prometheus.conf.example").read_text()
    assert 'listen = ":9273"' in example
    conf = example.replace('listen = ":9273"', f'listen = "127.0.0.1:{port}"')  # only the port differs
    tg = telegraf_factory(bucket, data, state, extra_confd={"prometheus.conf": conf})
    tg.start()
    assert wait_until(lambda: "Listening on" in tg.log() or not tg.running, timeout=60) and tg.running, tg.log()

    t = now - timedelta(minutes=1)
    rows = [Reading(t, "smartmeter", "E7", "", Decimal(-1962)),
            Reading(t, "smartmeter", "E8", "R", Decimal("13.5")),
            Reading(t, "smartmeter", "E8", "T", Decimal(4)),
            Reading(t, "smartmeter", "E0", "", Decimal("3871.2")),
            Reading(t, "smartmeter", "E3", "", Decimal("120.4")),
            Reading(t, "smartmeter", "D3", "", Decimal(1))]
    sink.write(rows)
    sink.close()
    expected = {
        'smartmeter_power_watts{epc="E7",unitid="smartmeter"}': -1962.0,
        'smartmeter_current_amperes{dataid="R",epc="E8",unitid="smartmeter"}': 13.5,
        'smartmeter_current_amperes{dataid="T",epc="E8",unitid="smartmeter"}': 4.0,
        'smartmeter_energy_kwh{epc="E0",unitid="smartmeter"}': 3871.2,
        'smartmeter_energy_kwh{epc="E3",unitid="smartmeter"}': 120.4,
    }
    got = wait_until(lambda: (m := scrape(port)) and expected.items() <= m.items() and m, timeout=90, interval=1)
    assert got and expected.items() <= got.items(), (scrape(port), tg.log()[-2000:])
    # only these families; D3 (a context row) is not exported; the value before start is superseded
    assert {re.sub(r"\{.*", "", k) for k in got} == {"smartmeter_power_watts", "smartmeter_current_amperes",
                                                      "smartmeter_energy_kwh"}
    # InfluxDB still gets every CSV row once, under the measurement "smartmeter" only
    assert wait_until(lambda: influxdb.count(bucket) >= 7, timeout=90)
    measurements = influxdb.query(
        f'import "influxdata/influxdb/schema"\nschema.measurements(bucket: "{bucket}", start: 0)')
    assert [r["_value"] for r in measurements] == ["smartmeter"]
    assert influxdb.count(bucket) == 7
    assert tg.stop() == 0
