import logging
import os
from pathlib import Path

import pytest

from logger.config import ConfigError, load_settings
from logger.schedule import DEFAULT_ENTRIES, ScheduleEntry
from logger.secrets import MASK, RedactingFilter, Secret

RBID = "0123456789ABCDEF0123456789abcdef"
PWD = "Pa55w0rdXYZ1"
TOKEN = "tok-SECRET-abcdefghijklmnop"


def load(tmp_path: Path, yml: str | None = None, env: dict[str, str] | None = None, dotenv: str | None = None,
         check_dirs: bool = False):
    path = None
    if yml is not None:
        path = tmp_path / "settings.yml"
        path.write_text(yml)
    dot = None
    if dotenv is not None:
        dot = tmp_path / ".env"
        dot.write_text(dotenv)
    return load_settings(path, env=env or {},
                         dotenv=dot, check_dirs=check_dirs)


def test_shipped_settings_file_is_valid_and_equals_the_defaults(tmp_path, monkeypatch):
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)  # no config/settings.yml here -> pure defaults
    defaults = load_settings(None, env={}, dotenv=None, check_dirs=False)
    shipped = load_settings(repo / "config" / "settings.yml", env={}, dotenv=None, check_dirs=False)
    assert defaults.source is None
    assert shipped == defaults
    assert shipped.schedule == DEFAULT_ENTRIES


def test_defaults(tmp_path):
    s = load(tmp_path)
    assert s.meter.unitid == "smartmeter" and s.meter.timezone == "Asia/Tokyo"
    assert str(s.meter.tz) == "Asia/Tokyo"
    assert s.serial.baudrate == 115200 and s.serial.dongle == "auto" and s.serial.port is None
    assert s.session.state_dir == Path("./state")
    assert (s.session.scan_duration_min, s.session.scan_duration_max) == (4, 8)
    assert s.session.max_epcs_per_get == 6 and s.session.request_timeout_s == 10 and s.session.retries == 3
    assert s.session.backfill is True
    assert s.csv.enabled and s.csv.directory == Path("./data") and s.csv.filename == "%Y%m%d-smartmeter.csv"
    assert not s.influxdb.enabled and s.influxdb.batch_size == 500 and s.influxdb.flush_interval_s == 1
    assert s.influxdb.spool_dir == Path("state/spool")
    assert s.health.heartbeat_file == Path("state/heartbeat")
    assert s.health.stale_after_cycles == 6 and s.health.http is None
    assert s.logging.level == "INFO"
    with pytest.raises(AttributeError):
        s.meter.unitid = "x"  # frozen


def test_precedence_defaults_yaml_dotenv_env(tmp_path):
    yml = "meter:\n  unitid: fromyaml\n  timezone: UTC\ncsv:\n  directory: /yaml\n"
    s = load(tmp_path, yml)
    assert s.meter.unitid == "fromyaml" and s.csv.directory == Path("/yaml")
    s = load(tmp_path, yml, dotenv="LOGGER_UNITID=fromdotenv\nCSV_DIR=/dotenv\n")
    assert s.meter.unitid == "fromdotenv" and s.csv.directory == Path("/dotenv")
    s = load(tmp_path, yml, env={"LOGGER_UNITID": "fromenv"}, dotenv="LOGGER_UNITID=fromdotenv\nCSV_DIR=/dotenv\n")
    assert s.meter.unitid == "fromenv" and s.csv.directory == Path("/dotenv")
    assert s.meter.timezone == "UTC"


def test_dotenv_does_not_touch_the_real_environment(tmp_path):
    load(tmp_path, dotenv="LOGGER_UNITID=fromdotenv\n")
    assert os.environ.get("LOGGER_UNITID") != "fromdotenv"


def test_env_names_map_to_keys(tmp_path):
    env = {
        "BROUTE_ID": RBID, "BROUTE_PASSWORD": PWD, "SERIAL_PORT": "socket://127.0.0.1:9999",
        "INFLUXDB_ENABLED": "true", "INFLUXDB_URL": "http://db:8086", "INFLUXDB_TOKEN": TOKEN,
        "INFLUXDB_ORG": "home", "INFLUXDB_BUCKET": "power", "LOGGER_TIMEZONE": "Europe/Berlin",
        "LOGGER_UNITID": "house", "CSV_DIR": "/csv", "STATE_DIR": "/st", "DEBUG": "1",
    }
    s = load(tmp_path, env=env)
    assert s.broute.id.reveal() == RBID and s.broute.password.reveal() == PWD
    assert s.serial.port == "socket://127.0.0.1:9999"
    assert s.influxdb.enabled and s.influxdb.url == "http://db:8086" and s.influxdb.token.reveal() == TOKEN
    assert (s.influxdb.org, s.influxdb.bucket) == ("home", "power")
    assert s.meter.timezone == "Europe/Berlin" and s.meter.unitid == "house"
    assert s.csv.directory == Path("/csv") and s.session.state_dir == Path("/st")
    assert s.influxdb.spool_dir == Path("/st/spool") and s.health.heartbeat_file == Path("/st/heartbeat")
    assert s.logging.level == "DEBUG"
    s.require_meter_access()


def test_secrets_never_shown(tmp_path, caplog):
    env = {"BROUTE_ID": RBID, "BROUTE_PASSWORD": PWD, "INFLUXDB_ENABLED": "1", "INFLUXDB_URL": "http://x:1",
           "INFLUXDB_TOKEN": TOKEN, "INFLUXDB_ORG": "o", "INFLUXDB_BUCKET": "b"}
    s = load(tmp_path, env=env)
    shown = " ".join([repr(s), str(s), str(s.redacted()), f"{s.broute.password}", str(s.influxdb.token)])
    for secret in (RBID, PWD, TOKEN):
        assert secret not in shown
    assert s.redacted()["broute"] == {"id": MASK, "password": MASK}
    assert s.redacted()["influxdb"]["token"] == MASK
    assert sorted(s.secret_values()) == sorted([RBID, PWD, TOKEN])
    with pytest.raises(TypeError):
        "x" + s.broute.password  # type: ignore[operator]

    log = logging.getLogger("test.redact")
    handler_filter = RedactingFilter(s.secret_values())
    log.addFilter(handler_filter)
    with caplog.at_level(logging.INFO, logger="test.redact"):
        log.info("joining with %s and token %s", PWD, TOKEN)
    log.removeFilter(handler_filter)
    assert PWD not in caplog.text and TOKEN not in caplog.text and MASK in caplog.text


def test_secret_wrapper():
    s = Secret("abcdefgh")
    assert str(s) == MASK and f"{s}" == MASK and "abcdefgh" not in repr(s)
    assert s == Secret("abcdefgh") and s != Secret("other") and len(s) == 8


BAD = [
    # (yaml, env, key, words in message)
    ("meter:\n  unitd: x\n", {}, "meter.unitd", "meter.unitid"),
    ("metr:\n  unitid: x\n", {}, "metr", "meter"),
    ("csv:\n  enabld: true\n", {}, "csv.enabld", "csv.enabled"),
    ("serial:\n  baudrate: fast\n", {}, "serial.baudrate", "whole number"),
    ("csv:\n  enabled: maybe\n", {}, "csv.enabled", "true or false"),
    ("meter:\n  timezone: Mars/Olympus\n", {}, "meter.timezone", "Asia/Tokyo"),
    ("", {"LOGGER_TIMEZONE": "Nowhere/Land"}, "meter.timezone", "LOGGER_TIMEZONE"),
    ("", {"BROUTE_ID": "0123"}, "broute.id", "32 characters (got 4)"),
    ("", {"BROUTE_ID": "0123456789ABCDEF0123456789abcde!"}, "broute.id", "letters and digits"),
    ("", {"BROUTE_PASSWORD": "short123"}, "broute.password", "12 characters (got 8)"),
    ("broute:\n  password: 123456789012\n", {}, "broute.password", "quote"),
    ("serial:\n  dongle: bp35z9\n", {}, "serial.dongle", "bp35a1"),
    ("session:\n  scan_duration_min: 9\n  scan_duration_max: 8\n", {}, "session.scan_duration_min", "exceed"),
    ("session:\n  max_epcs_per_get: 0\n", {}, "session.max_epcs_per_get", "1..16"),
    ("influxdb:\n  enabled: true\n", {}, "influxdb.url", "INFLUXDB_URL"),
    ("influxdb:\n  enabled: true\n  url: http://x:8086\n  org: o\n  bucket: b\n", {}, "influxdb.token",
     "INFLUXDB_TOKEN"),
    ("influxdb:\n  enabled: true\n  url: http://x:8086\n  token: t\n  bucket: b\n", {}, "influxdb.org", "INFLUXDB_ORG"),
    ("influxdb:\n  enabled: true\n  url: http://x:8086\n  token: t\n  org: o\n", {}, "influxdb.bucket",
     "INFLUXDB_BUCKET"),
    ("influxdb:\n  enabled: true\n  url: x:8086\n  token: t\n  org: o\n  bucket: b\n", {}, "influxdb.url", "http://"),
    ("health:\n  http: localhost\n", {}, "health.http", "host:port"),
    ("logging:\n  level: LOUD\n", {}, "logging.level", "INFO"),
    ("csv:\n  filename: data.csv\n", {}, "csv.filename", "%Y%m%d"),
    ("schedule:\n  - {epc: [E7], cycle: 2}\n", {}, "schedule[0].cycle", "minimum of 5 s"),
    ("schedule:\n  - {epc: [E0], cycle: 30}\n", {}, "schedule[0].cycle", "minimum of 60 s"),
    ("schedule:\n  - {epc: [E2], cycle: 600}\n", {}, "schedule[0].cycle", "minimum of 1800 s"),
    ("schedule:\n  - {epc: [E7], cycle: 10}\n  - {epc: [XYZ], cycle: 60}\n", {}, "schedule[1].epc", "two hex"),
    ("schedule:\n  - {epc: [\"80\"], cycle: 60}\n", {}, "schedule[0].epc", "not a meter property"),
    ("schedule:\n  - {epc: [E7], cylce: 10}\n", {}, "schedule[0].cylce", "schedule[0].cycle"),
    ("schedule:\n  - {epc: [E7]}\n", {}, "schedule[0].cycle", "missing"),
    ("schedule:\n  - {epc: [E7], cycle: soon}\n", {}, "schedule[0].cycle", "start"),
    ("schedule: []\n", {}, "schedule", "non-empty"),
    ("acquisition:\n  interval_seconds: 2\n  properties: [E7]\n", {}, "acquisition.interval_seconds", "minimum"),
    ("acquisition:\n  interval_seconds: 30\n  propertys: [E7]\n", {}, "acquisition.propertys",
     "acquisition.properties"),
    ("acquisition:\n  interval_seconds: 30\n  properties: [E7]\nschedule:\n  - {epc: [E7], cycle: 10}\n", {},
     "acquisition", "only one"),
    ("meter: [1, 2]\n", {}, "meter", "mapping"),
    ("meter:\n  unitid: [oops\n", {}, "config", "YAML"),
    ("", {"INFLUXDB_ENABLED": "perhaps"}, "influxdb.enabled", "true or false"),
]


@pytest.mark.parametrize("yml,env,key,words", BAD, ids=[b[2] + ":" + b[3] for b in BAD])
def test_config_errors_name_the_key_and_fix(tmp_path, yml, env, key, words):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, yml, env=env)
    err = info.value
    assert err.key == key
    assert str(err).startswith(f"config error: {key}: ")
    assert words in str(err)
    assert err.fix


def test_password_error_names_key_length_and_fix_and_never_echoes_value(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, env={"BROUTE_PASSWORD": "abcd1234"})
    assert info.value.key == "broute.password" and "(got 8)" in info.value.problem
    assert "BROUTE_PASSWORD" in info.value.fix
    assert "abcd1234" not in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, env={"BROUTE_ID": "zzzzSECRETzzzz"})
    assert "SECRET" not in str(info.value) and "SECRET" not in repr(info.value)


def test_missing_settings_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.yml", env={}, dotenv=None)
    assert info.value.key == "config" and "nope.yml" in str(info.value)


def test_require_meter_access(tmp_path):
    s = load(tmp_path, env={"BROUTE_ID": RBID, "BROUTE_PASSWORD": PWD})
    with pytest.raises(ConfigError) as info:
        s.require_meter_access()
    assert info.value.key == "serial.port" and "SERIAL_PORT" in str(info.value)


def test_schedule_forms(tmp_path):
    s = load(tmp_path, "acquisition:\n  interval_seconds: 30\n  properties: [E7, E8]\n")
    assert s.schedule == (ScheduleEntry((0xE7, 0xE8), 30),)
    s = load(tmp_path, "schedule:\n  - {epc: [E7], cycle: 10}\n  - {epc: [D3, D7, E1], cycle: start}\n"
                       "  - {epc: [\"E0\"], cycle: 600, at_start: true}\n")
    assert s.schedule == (
        ScheduleEntry((0xE7,), 10),
        ScheduleEntry((0xD3, 0xD7, 0xE1), None, at_start=True),
        ScheduleEntry((0xE0,), 600, at_start=True),
    )


def test_unwritable_directory(tmp_path):
    if os.geteuid() == 0:
        # root can write anywhere; use a path under a regular file instead
        blocker = tmp_path / "file"
        blocker.write_text("")
        with pytest.raises(ConfigError) as info:
            load(tmp_path, env={"CSV_DIR": str(blocker / "data"), "STATE_DIR": str(tmp_path / "st")}, check_dirs=True)
        assert info.value.key == "csv.directory" and "not a directory" in str(info.value)
        return
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, env={"CSV_DIR": str(ro / "data"), "STATE_DIR": str(tmp_path / "st")}, check_dirs=True)
    assert info.value.key == "csv.directory" and "CSV_DIR" in str(info.value)


def test_writable_directories_pass(tmp_path):
    s = load(tmp_path, env={"CSV_DIR": str(tmp_path / "a" / "b"), "STATE_DIR": str(tmp_path / "st")}, check_dirs=True)
    assert s.csv.directory == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # checking creates nothing


@pytest.mark.parametrize(("written", "stored"), [("auto", "auto"), ("AUTO", "auto"), ("bp35a1", "bp35a1"),
                                                 ("BP35C2", "bp35c0"), ("rl7023_ips", "rl7023-ips"),
                                                 ("wsr35a1", "bp35a1")])
def test_dongle_names_come_from_the_family_table(tmp_path, written, stored):
    assert load(tmp_path, f"serial:\n  dongle: {written}\n").serial.dongle == stored


def test_unknown_dongle_lists_every_choice_of_the_family_table(tmp_path):
    from logger.skstack.families import DONGLE_CHOICES

    with pytest.raises(ConfigError) as info:
        load(tmp_path, "serial:\n  dongle: bp35z9\n")
    assert info.value.key == "serial.dongle"
    assert all(name in info.value.fix for name in DONGLE_CHOICES)
