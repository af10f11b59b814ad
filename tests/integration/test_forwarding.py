"""Forwarding snippets (telegraf.d/forward-*.conf.example) on the REAL Telegraf with the project's
telegraf.conf, tailing the logger's CSV files:

* HTTP: a local http.server (127.0.0.1, free port) receives every row as JSON, with the CSV's columns.
* MQTT: a local mosquitto (Debian package, started here on 127.0.0.1 with a temp config) receives
  the state topics and the retained Home Assistant discovery configs; read with mosquitto_sub.

InfluxDB is not needed for these: the main output points at a closed port (its failures do not
hold back the other outputs, which is also what a user without InfluxDB gets).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from services import REPO, Telegraf, free_port, load_compose, require_binary, wait_until

from logger.readings import Reading
from logger.sinks.csv_sink import CsvSink

JST = ZoneInfo("Asia/Tokyo")
CONFD = REPO / "telegraf.d"
MOSQUITTO_HINT = "apt-get install -y mosquitto mosquitto-clients"


def rows_for(start: datetime, n: int, unitid: str = "smartmeter") -> list[Reading]:
    out = [Reading(start, unitid, "D3", "", Decimal(1)), Reading(start, unitid, "D7", "", Decimal(6)),
           Reading(start, unitid, "E1", "", Decimal("0.1"))]
    e0, e3 = Decimal("3871.2"), Decimal("12.5")
    for i in range(n):
        t = start + timedelta(minutes=i)
        power = Decimal(-420) if i % 4 == 3 else Decimal(300 + 37 * i)
        out += [Reading(t, unitid, "E7", "", power), Reading(t, unitid, "E8", "R", Decimal(i % 20) / 2),
                Reading(t, unitid, "E8", "T", Decimal(i % 10) / 2)]
        if i % 5 == 0:
            e0 += Decimal("0.1")
            e3 += Decimal("0.1") if i % 10 == 0 else 0
            out += [Reading(t, unitid, "E0", "", e0), Reading(t, unitid, "E3", "", e3)]
        if t.minute % 30 == 0:
            out += [Reading(t, unitid, "EA", "", e0), Reading(t, unitid, "EB", "", e3)]
    return out


def write_csv(data: Path, rows: list[Reading]) -> None:
    sink = CsvSink(data, "%Y%m%d-smartmeter.csv", JST)
    sink.write(rows)
    sink.close()


def make_telegraf(tmp_path: Path, data: Path, snippet: str, extra_env: dict[str, str]) -> Telegraf:
    """The compose telegraf service with ``snippet`` enabled the documented way (copied to
    telegraf.d/<name>.conf) and the variables it needs."""
    state = tmp_path / "telegraf-state"
    state.mkdir()
    variables = {
        "INFLUXDB_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: InfluxDB is not needed here
        "INFLUXDB_TOKEN": "unused-token", "INFLUXDB_ORG": "org", "INFLUXDB_BUCKET": "bucket",
        **extra_env,
    }
    name = snippet.removesuffix(".example")
    tg = Telegraf(require_binary("TELEGRAF_BIN"), tmp_path / "telegraf", variables,
                  mounts={"/data": data, "/var/lib/telegraf": state},
                  extra_confd={name: (CONFD / snippet).read_text()})
    # docs/extras.md asks for these in the telegraf service's environment; until compose passes
    # them, give them to the process directly (the same values compose would pass).
    compose_env = load_compose()["services"]["telegraf"].get("environment") or {}
    for key, value in extra_env.items():
        if key not in compose_env:
            tg.env[key] = value
    return tg


# --------------------------------------------------------------------------- HTTP


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.bodies.append((dict(self.headers), body))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.bodies = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_http_forwarding_posts_every_row_as_json(tmp_path, http_receiver):
    data = tmp_path / "data"
    data.mkdir()
    start = datetime(2026, 11, 22, 10, 0, tzinfo=JST)
    rows = rows_for(start, 30)
    write_csv(data, rows)
    url = f"http://127.0.0.1:{http_receiver.server_address[1]}/ingest"
    tg = make_telegraf(tmp_path, data, "forward-http.conf.example",
                       {"FORWARD_HTTP_URL": url, "FORWARD_HTTP_TOKEN": "s3cret-token"})
    # the documented way to send a bearer token: uncomment the Authorization header
    confd = Path(tg.map_path("/etc/telegraf/telegraf.d"))
    conf = confd / "forward-http.conf"
    text = conf.read_text()
    assert '# Authorization = "Bearer ${FORWARD_HTTP_TOKEN}"' in text
    conf.write_text(text.replace('# Authorization = "Bearer', 'Authorization = "Bearer'))

    def received() -> list[dict]:
        return [row for _h, body in list(http_receiver.bodies) for row in json.loads(body)]

    tg.start()
    try:
        wait_until(lambda: not tg.running or len(received()) >= len(rows), timeout=90, interval=0.5)
        assert len(received()) == len(rows), tg.log()[-3000:]
        # rows appended while Telegraf tails the file arrive too
        later = [Reading(start + timedelta(minutes=31), "smartmeter", "E7", "", Decimal(-1962)),
                 Reading(start + timedelta(minutes=31), "smartmeter", "E8", "T", Decimal(4))]
        write_csv(data, later)
        wait_until(lambda: not tg.running or len(received()) >= len(rows) + 2, timeout=90, interval=0.5)
    finally:
        assert tg.stop() == 0, tg.log()[-3000:]
    got = received()
    assert len(got) == len(rows) + 2
    expected = {(r.timestamp.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                 r.unitid, r.epc, r.dataid): r.value for r in rows + later}
    assert {(g["timestamp"], g["unitid"], g["epc"], g["dataid"]) for g in got} == set(expected)
    for g in got:
        assert set(g) == {"timestamp", "unitid", "epc", "dataid", "value"}
        assert isinstance(g["value"], (int, float))
        assert Decimal(str(g["value"])) == expected[(g["timestamp"], g["unitid"], g["epc"], g["dataid"])]
    for headers, _body in http_receiver.bodies:
        assert headers["Content-Type"] == "application/json"
        assert headers["Authorization"] == "Bearer s3cret-token"
    assert "s3cret-token" not in tg.log()


# --------------------------------------------------------------------------- MQTT


def _require(program: str) -> str:
    path = shutil.which(program) or (f"/usr/sbin/{program}" if Path(f"/usr/sbin/{program}").exists() else None)
    if path is None:
        pytest.fail(f"{program} not found: the MQTT forwarding test needs a real broker; install it with: "
                    f"{MOSQUITTO_HINT}", pytrace=False)
    return path


@pytest.fixture
def mosquitto(tmp_path):
    binary = _require("mosquitto")
    _require("mosquitto_sub")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n")
    with open(tmp_path / "mosquitto.log", "wb") as log:
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return proc.poll() is not None

    wait_until(listening, timeout=20)
    if proc.poll() is not None:
        pytest.fail(f"mosquitto did not start:\n{(tmp_path / 'mosquitto.log').read_text()}", pytrace=False)
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def subscribe(port: int, topic: str, count: int, timeout: int, out: Path | None = None) -> subprocess.Popen:
    """mosquitto_sub printing "<retained 0/1>\\t<topic>\\t<payload>" per message; exits after
    ``count`` messages or ``timeout`` seconds without one."""
    argv = [_require("mosquitto_sub"), "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", "1",
            "-C", str(count), "-W", str(timeout), "-F", "%r\t%t\t%p"]
    return subprocess.Popen(argv, stdout=open(out, "wb") if out else subprocess.PIPE, stderr=subprocess.PIPE)


def parse(text: str) -> list[tuple[bool, str, str]]:
    out = []
    for line in text.splitlines():
        if not line.strip():  # Telegraf's JSON payloads end with a newline
            continue
        retained, topic, payload = line.split("\t", 2)
        out.append((retained == "1", topic, payload))
    return out


def test_mqtt_forwarding_state_topics_and_home_assistant_discovery(tmp_path, mosquitto):
    data = tmp_path / "data"
    data.mkdir()
    unitid = "house1"
    start = datetime(2026, 11, 22, 10, 0, tzinfo=JST)
    rows = rows_for(start, 20, unitid)
    write_csv(data, rows)
    state_rows = [r for r in rows if r.epc in ("E7", "E8", "E0", "E3")]
    state_file = tmp_path / "state.txt"
    sub = subscribe(mosquitto, "smartmeter/#", len(state_rows), 120, state_file)
    # the subscription is in place once the broker logged it; a bounded wait
    wait_until(lambda: "Subscribe" in (tmp_path / "mosquitto.log").read_text() or sub.poll() is not None, timeout=20)
    tg = make_telegraf(tmp_path, data, "forward-mqtt.conf.example",
                       {"MQTT_SERVER": f"tcp://127.0.0.1:{mosquitto}", "MQTT_USERNAME": "", "MQTT_PASSWORD": ""})
    tg.start()
    try:
        try:
            sub.wait(timeout=150)
        except subprocess.TimeoutExpired:
            sub.kill()
            sub.wait()
        state = parse(state_file.read_text())
        assert len(state) == len(state_rows), (state[:5], tg.log()[-3000:])
        # A fresh subscriber gets the retained discovery configs (5 sensors) from the broker.
        disc = subscribe(mosquitto, "homeassistant/#", 5, 60)
        out, err = disc.communicate(timeout=90)
    finally:
        assert tg.stop() == 0, tg.log()[-3000:]

    expected: dict[str, list[Decimal]] = {}
    for r in state_rows:
        topic = "/".join(p for p in ("smartmeter", unitid, r.epc, r.dataid, "value") if p)
        expected.setdefault(topic, []).append(r.value)
    got: dict[str, list[Decimal]] = {}
    for retained, topic, payload in state:
        assert not retained
        got.setdefault(topic, []).append(Decimal(payload))
    assert {t: sorted(v) for t, v in got.items()} == {t: sorted(v) for t, v in expected.items()}
    assert f"smartmeter/{unitid}/E7/value" in got and Decimal(-420) in got[f"smartmeter/{unitid}/E7/value"]

    configs = {topic: json.loads(payload) for retained, topic, payload in parse(out.decode()) if retained}
    assert set(configs) == {f"homeassistant/sensor/{unitid}_{s}/config"
                            for s in ("power", "energy_import", "energy_export", "current_r", "current_t")}, err
    power = configs[f"homeassistant/sensor/{unitid}_power/config"]
    assert (power["unit_of_measurement"], power["device_class"], power["state_class"]) == ("W", "power", "measurement")
    energy = configs[f"homeassistant/sensor/{unitid}_energy_import/config"]
    assert (energy["unit_of_measurement"], energy["device_class"], energy["state_class"]) == (
        "kWh", "energy", "total_increasing")
    assert configs[f"homeassistant/sensor/{unitid}_energy_export/config"]["state_topic"] == f"smartmeter/{unitid}/E3/value"
    for cfg in configs.values():
        assert cfg["state_topic"] in got, cfg  # every sensor points at a topic that carries values
        assert cfg["unique_id"].startswith(unitid + "_")
        assert cfg["device"]["identifiers"] == [f"smartmeter-logger_{unitid}"]
