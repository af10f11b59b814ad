"""docker-compose.yml, Dockerfile, telegraf.conf and .env.example agree with each other and with
the logger's settings. No Docker engine and no binaries are needed (the schema is the Compose
Specification's own JSON Schema)."""

from __future__ import annotations

import fnmatch
import json
import re
import sys
import tomllib
from datetime import datetime
from pathlib import Path, PurePosixPath

import jsonschema
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "integration"))

from datafiles import COMPOSE_SCHEMA  # noqa: E402
from services import (  # noqa: E402
    REPO,
    compose_variables,
    interpolate,
    load_compose,
    parse_volume,
    read_env_file,
    service_environment,
)

SCHEMA = COMPOSE_SCHEMA


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(REPO / ".env.example")


@pytest.fixture(scope="module")
def telegraf_conf() -> dict:
    with open(REPO / "telegraf.conf", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (REPO / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def volumes(service: dict) -> dict[str, tuple[str, bool]]:
    """target -> (source, read_only)"""
    return {t: (s, ro) for s, t, ro in map(parse_volume, service.get("volumes", []))}


def the(instruction: str, dockerfile) -> list[str]:
    return [arg for ins, arg in dockerfile if ins == instruction]


# --------------------------------------------------------------------------- compose itself


def test_compose_file_validates_against_the_compose_spec_schema(compose):
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(compose)
    assert set(compose["services"]) == {"logger", "logger-demo", "import", "folders", "telegraf", "influxdb", "grafana",
                                        "chronograf"}


def test_every_image_is_pinned(services, dockerfile):
    for name, svc in services.items():
        image = svc.get("image")
        assert image, f"{name}: no image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: image {image!r} is not pinned"
        if "build" not in svc:
            assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"{name}: {image!r} should pin a full version"
    assert services["telegraf"]["image"] == "telegraf:1.39.3"  # the version the tests run
    assert services["influxdb"]["image"] == "influxdb:2.7.12"


def test_logger_and_demo_are_in_separate_profiles_and_telegraf_always_runs(services):
    assert services["logger"]["profiles"] == ["meter"]
    assert services["logger-demo"]["profiles"] == ["demo"]
    assert "profiles" not in services["telegraf"]
    assert services["influxdb"]["profiles"] == ["influxdb"]
    assert services["grafana"]["profiles"] == ["grafana"]
    assert services["chronograf"]["profiles"] == ["chronograf"]


def test_chronograf_connects_to_the_same_influxdb_and_has_the_dashboard(services, env_example):
    env = service_environment(services["chronograf"], env_example)
    for key in ("INFLUXDB_URL", "INFLUXDB_ORG", "INFLUXDB_TOKEN"):  # Chronograf's own v2 connection variables
        assert key in env
    assert env["INFLUXDB_URL"] == service_environment(services["telegraf"], env_example)["INFLUXDB_URL"]
    mounts = volumes(services["chronograf"])
    assert any((REPO / src.removeprefix("./") / "smartmeter-dashboard.json").is_file()
               for src, _ro in mounts.values() if src.startswith("./"))


def test_demo_profile_runs_the_simulator_with_no_device(services):
    demo = services["logger-demo"]
    assert demo["command"][:2] == ["run", "--simulate"]
    assert "devices" not in demo
    assert volumes(demo)["/state"][0] != volumes(services["logger"])["/state"][0]
    assert services["logger"]["command"][0] == "run" and "--simulate" not in services["logger"]["command"]


def test_logger_services_are_locked_down(services):
    for name in ("logger", "logger-demo", "telegraf"):
        svc = services[name]
        assert svc["read_only"] is True, name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert svc["restart"] == "unless-stopped", name
    logger = services["logger"]
    assert logger["devices"] == ["${SERIAL_PORT:-/dev/ttyUSB0}:/dev/ttyUSB0"]
    assert logger["group_add"] == ["${DIALOUT_GID:-20}"]


def test_logger_command_matches_the_dockerfile_entrypoint_and_the_cli(services, dockerfile):
    from logger.cli import COMMANDS

    assert json.loads(the("ENTRYPOINT", dockerfile)[-1]) == ["smartmeter-logger"]
    cmd = json.loads(the("CMD", dockerfile)[-1])
    assert cmd == services["logger"]["command"] == ["run", "--config", "/config/settings.yml"]
    for name in ("logger", "logger-demo"):
        command = services[name]["command"]
        assert command[0] in COMMANDS
        config = PurePosixPath(command[command.index("--config") + 1])
        source, ro = volumes(services[name])[str(config.parent)]
        assert ro, "the settings are mounted read-only"
        assert (REPO / source / config.name).is_file(), f"{source}/{config.name} is missing"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["smartmeter-logger"] == "logger.cli:main"


def test_logger_environment_names_are_settings_overrides(services, env_example):
    from logger.config import _ENV, load_settings

    for name in ("logger", "logger-demo"):
        env = service_environment(services[name], env_example)
        # UNIT_PRICE_JPY_PER_KWH: the live page's cost (read like `summary` reads it)
        assert set(env) <= set(_ENV) | {"DEBUG", "UNIT_PRICE_JPY_PER_KWH"}, \
            f"{name}: {set(env) - set(_ENV)} are not settings variables"
        # what the logger in the container ends up with: its environment (no env_file)
        merged = env
        settings = load_settings(REPO / "config" / "settings.yml", env=merged, dotenv=None, check_dirs=False)
        mounts = volumes(services[name])
        assert str(settings.csv.directory) == "/data" and "/data" in mounts
        assert str(settings.session.state_dir) == "/state" and "/state" in mounts
        assert not mounts["/data"][1] and not mounts["/state"][1], "the logger writes both"
        assert str(settings.health.heartbeat_file) == "/state/heartbeat"
    assert service_environment(services["logger"], env_example)["SERIAL_PORT"] == "/dev/ttyUSB0"


def test_healthcheck_reads_the_heartbeat_file_the_settings_point_at(services, dockerfile):
    test = services["logger"]["healthcheck"]["test"]
    assert test == ["CMD", "python", "-m", "logger.health", "/state/heartbeat"]
    assert services["logger-demo"]["healthcheck"] == services["logger"]["healthcheck"]
    hc = the("HEALTHCHECK", dockerfile)[-1]
    assert json.loads(hc[hc.index("CMD") + 3 :].strip()) == test[1:]


def test_the_csv_directory_is_shared_and_read_only_for_telegraf(services, telegraf_conf):
    logger_data = volumes(services["logger"])["/data"]
    tg = volumes(services["telegraf"])
    files = telegraf_conf["inputs"]["tail"][0]["files"]
    assert len(files) == 1
    data_dir = str(PurePosixPath(files[0]).parent)
    assert data_dir in tg, f"telegraf reads {files[0]} but mounts no {data_dir}"
    assert tg[data_dir] == (logger_data[0], True), "same host dir as the logger, read-only"
    assert volumes(services["logger-demo"])["/data"][0] == logger_data[0]
    # the daily file name the logger writes (settings default) matches the glob
    from logger.config import load_settings

    pattern = load_settings(REPO / "config" / "settings.yml", env={}, dotenv=None, check_dirs=False).csv.filename
    name = datetime(2026, 11, 22).strftime(pattern)
    assert fnmatch.fnmatch(f"{data_dir}/{name}", files[0])


def test_telegraf_statefile_is_on_its_own_writable_volume(services, telegraf_conf):
    statefile = PurePosixPath(telegraf_conf["agent"]["statefile"])
    tg = volumes(services["telegraf"])
    source, ro = tg[str(statefile.parent)]
    assert not ro
    assert source not in {s for s, _ in volumes(services["logger"]).values()}


def test_telegraf_config_files_are_the_projects(services):
    tg = volumes(services["telegraf"])
    cmd = services["telegraf"]["command"]
    conf = cmd[cmd.index("--config") + 1]
    confdir = cmd[cmd.index("--config-directory") + 1]
    assert tg[conf] == ("./telegraf.conf", True)
    assert tg[confdir] == ("./telegraf.d", True)
    assert services["telegraf"]["user"] == "1000:20", "same uid/gid as the logger (CSV files are 0640)"


def test_telegraf_conf_tails_robustly(telegraf_conf):
    tail = telegraf_conf["inputs"]["tail"]
    assert len(tail) == 1
    t = tail[0]
    assert t["initial_read_offset"] == "saved-or-beginning"
    assert t["path_tag"] == ""
    assert t["name_override"] == "smartmeter"
    assert t["data_format"] == "csv"
    assert t["csv_header_row_count"] == 0
    assert t["csv_column_names"] == ["timestamp", "unitid", "epc", "dataid", "value"]
    assert t["csv_column_types"][-1] == "float"
    assert t["csv_tag_columns"] == ["unitid", "epc", "dataid"]
    assert t["csv_timestamp_column"] == "timestamp"
    assert t["csv_timestamp_format"] == "2006-01-02T15:04:05.000Z07:00"
    assert t["csv_skip_errors"] is True
    assert telegraf_conf["agent"]["omit_hostname"] is True
    out = telegraf_conf["outputs"]["influxdb_v2"]
    assert len(out) == 1
    assert out[0]["urls"] == ["${INFLUXDB_URL}"]
    assert (out[0]["token"], out[0]["organization"], out[0]["bucket"]) == (
        "${INFLUXDB_TOKEN}", "${INFLUXDB_ORG}", "${INFLUXDB_BUCKET}")
    assert out[0]["namepass"] == ["smartmeter"]
    assert "outputs" not in telegraf_conf or "prometheus_client" not in telegraf_conf["outputs"], "off by default"


def test_prometheus_conf_is_opt_in():
    d = REPO / "telegraf.d"
    assert not list(d.glob("*.conf")), "telegraf.d/*.conf is loaded: ship examples only"
    example = tomllib.loads((d / "prometheus.conf.example").read_text())
    assert example["outputs"]["prometheus_client"][0]["listen"] == ":9273"
    assert {t["name_override"] for t in example["inputs"]["tail"]} == {
        "smartmeter_power", "smartmeter_current", "smartmeter_energy"}


def test_env_example_lists_every_variable_used(compose, services, env_example):
    texts = [(REPO / "docker-compose.yml").read_text(), (REPO / "telegraf.conf").read_text()]
    texts += [p.read_text() for p in (REPO / "grafana" / "provisioning").rglob("*.yml")]
    used = set().union(*(compose_variables(t) for t in texts))
    # telegraf.d snippets: Telegraf's ${VAR} (a bare $name there can be a JSONata/template token)
    snippets = {m for p in (REPO / "telegraf.d").iterdir() for m in re.findall(r"\$\{(\w+)", p.read_text())}
    tg_env = services["telegraf"]["environment"]
    assert snippets <= set(tg_env), f"telegraf service does not pass {sorted(snippets - set(tg_env))}"
    used |= snippets
    # $${VAR} in compose is a shell variable inside a container command, set by that service
    shell_only = {"UNIT_PRICE_JPY_PER_KWH"}
    assert used - shell_only <= set(env_example), f"missing from .env.example: {sorted(used - set(env_example))}"
    for name in ("BROUTE_ID", "BROUTE_PASSWORD", "SERIAL_PORT", "INFLUXDB_URL", "INFLUXDB_TOKEN", "INFLUXDB_ORG",
                 "INFLUXDB_BUCKET", "DOCKER_INFLUXDB_INIT_USERNAME", "DOCKER_INFLUXDB_INIT_PASSWORD",
                 "GRAFANA_ADMIN_PASSWORD", "UNIT_PRICE_JPY_PER_KWH", "COMPOSE_PROFILES"):
        assert name in env_example, name
    # and the whole compose file interpolates with it
    interpolate((REPO / "docker-compose.yml").read_text(), env_example)


def test_env_example_holds_placeholders_only(env_example):
    from logger.config import load_settings

    assert set(env_example["BROUTE_ID"]) == {"0"}
    assert "CHANGEME" in env_example["BROUTE_PASSWORD"]
    for key in ("INFLUXDB_TOKEN", "DOCKER_INFLUXDB_INIT_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        assert env_example[key].startswith("replace-with-"), key
    assert len(env_example["DOCKER_INFLUXDB_INIT_PASSWORD"]) >= 8, "influxd refuses shorter passwords"
    ignored = (REPO / ".gitignore").read_text().split()
    assert ".env" in ignored
    # the placeholders still pass the logger's validation (so `docker compose up` reaches the dongle)
    load_settings(REPO / "config" / "settings.yml", env=env_example, dotenv=None, check_dirs=False)


def test_influxdb_setup_uses_the_same_org_bucket_and_token_as_its_clients(services, env_example):
    init = service_environment(services["influxdb"], env_example)
    tg = service_environment(services["telegraf"], env_example)
    gf = service_environment(services["grafana"], env_example)
    assert init["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert init["DOCKER_INFLUXDB_INIT_ORG"] == tg["INFLUXDB_ORG"] == gf["INFLUXDB_ORG"] == env_example["INFLUXDB_ORG"]
    assert init["DOCKER_INFLUXDB_INIT_BUCKET"] == tg["INFLUXDB_BUCKET"] == gf["INFLUXDB_BUCKET"]
    assert init["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == tg["INFLUXDB_TOKEN"] == env_example["INFLUXDB_TOKEN"]
    assert tg["INFLUXDB_URL"] == env_example["INFLUXDB_URL"] == "http://influxdb:8086"


def test_dockerfile_is_pinned_small_and_non_root(dockerfile):
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in the("ARG", dockerfile) if "=" in a}
    froms = the("FROM", dockerfile)
    assert len(froms) == 2, "multi-stage: build + final"
    for f in froms:
        image = interpolate(f.split()[0], args)
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim-bookworm", image), image
    users = the("USER", dockerfile)
    assert users and users[-1] == "1000:20"
    runs = " ".join(the("RUN", dockerfile))
    assert "--uid 1000" in runs and "--gid 20" in runs
    # every runtime dependency pinned with ==, and the project's own deps all covered
    pins = dict(re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', runs))
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    for dep in pyproject["project"]["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", dep).group(0)
        assert name in pins, f"{name} is not pinned in the Dockerfile"
    assert "gcc" not in runs and "build-essential" not in runs
    assert json.loads(the("VOLUME", dockerfile)[-1]) == ["/data", "/state"]


def test_dockerfile_copies_only_what_exists_and_is_not_ignored(dockerfile):
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", ".dockerignore allow-lists the build context"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for arg in the("COPY", dockerfile):
        if arg.startswith("--from"):
            continue
        *sources, _dest = arg.split()
        for source in sources:
            assert source.rstrip("/") in allowed, f"COPY {source} is excluded by .dockerignore"
            assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"


def test_deploy_guide_matches_the_compose_file(services, env_example):
    guide = (REPO / "docs" / "deploy.md").read_text()
    binds = {s[2:] for svc in services.values() for s, _t, _ro in map(parse_volume, svc.get("volumes", []))
             if s.startswith("./") and not s.endswith((".conf", ".d")) and s not in ("./config",)
             and not s.startswith(("./grafana", "./chronograf"))}
    assert binds == {"state", "telegraf-state", "demo-state"}
    mkdirs = " ".join(re.findall(r"mkdir -p ([^\n`]+)", guide))
    for d in binds | {"data"}:
        assert re.search(rf"(^|\s){re.escape(d)}(\s|$)", mkdirs) or d == "demo-state" and "demo-state" in mkdirs, d
    assert env_example["DATA_DIR"] == "./data"
    for profile in ("meter", "demo", "influxdb", "grafana"):
        assert profile in guide
    assert "WOPT 01" in guide and "ROPT" in guide
    assert guide.index("# 導入ガイド（日本語）") < guide.index("# Deployment guide (English)")


# --------------------------------------------------------------------------- what a real engine showed (issue 11)


SECRETS = ("BROUTE_ID", "BROUTE_PASSWORD", "INFLUXDB_TOKEN", "DOCKER_INFLUXDB_INIT_PASSWORD",
           "GRAFANA_ADMIN_PASSWORD", "MQTT_PASSWORD", "FORWARD_HTTP_TOKEN")


def test_no_service_takes_the_whole_env_file(services, env_example):
    """env_file: .env handed the logger every secret in .env; each service names what it needs."""
    needs = {
        "logger": {"BROUTE_ID", "BROUTE_PASSWORD", "INFLUXDB_TOKEN"},
        "logger-demo": {"BROUTE_ID", "BROUTE_PASSWORD", "INFLUXDB_TOKEN"},
        "import": {"INFLUXDB_TOKEN"},
        "folders": set(),
        "telegraf": {"INFLUXDB_TOKEN", "MQTT_PASSWORD", "FORWARD_HTTP_TOKEN"},
        "influxdb": {"INFLUXDB_TOKEN", "DOCKER_INFLUXDB_INIT_PASSWORD"},
        "grafana": {"INFLUXDB_TOKEN", "GRAFANA_ADMIN_PASSWORD"},
        "chronograf": {"INFLUXDB_TOKEN"},
    }
    fake = {**env_example, **{k: f"secret-{k}" for k in SECRETS}}
    for name, svc in services.items():
        assert "env_file" not in svc, f"{name}: env_file hands it every secret in .env"
        values = set(service_environment(svc, fake).values())
        held = {k for k in SECRETS if fake[k] in values}
        assert held == needs[name], f"{name} holds {sorted(held)}, needs {sorted(needs[name])}"


def test_root_owned_folders_are_handed_to_the_logger_user_first(services):
    folders = services["folders"]
    assert "profiles" not in folders, "runs with every profile"
    assert folders["image"] == services["telegraf"]["image"], "an image every profile already has"
    assert folders["user"] == "0:0" and folders["cap_drop"] == ["ALL"] and folders["cap_add"] == ["CHOWN"]
    assert folders["network_mode"] == "none" and folders["read_only"] is True
    script = " ".join(folders["command"])
    assert "stat -c %u" in script and "= 0 ]" in script and "chown 1000:20" in script, "only root's folders"
    mounted = {src for src, _t, _ro in map(parse_volume, folders["volumes"])}
    binds = {src for name in ("logger", "logger-demo", "telegraf") for src, _t, _ro in
             map(parse_volume, services[name]["volumes"]) if not src.endswith((".conf", ".d")) and src != "./config"}
    assert binds <= mounted, f"not prepared: {binds - mounted}"
    for name in ("logger", "logger-demo", "telegraf"):
        assert services[name]["depends_on"]["folders"]["condition"] == "service_completed_successfully", name


def test_telegraf_stops_before_influxdb_and_handles_env_strictly(services):
    dep = services["telegraf"]["depends_on"]["influxdb"]
    assert dep["required"] is False, "with your own InfluxDB the influxdb profile is off"
    assert "--strict-env-handling" in services["telegraf"]["command"], "else Telegraf 1.39 warns at every start"


def test_import_needs_no_dongle(services):
    imp = services["import"]
    assert "devices" not in imp and imp["profiles"] == ["tools"]
    assert "smartmeter-logger import" in " ".join(imp["entrypoint"])
    assert volumes(imp)["/data"] == (volumes(services["logger"])["/data"][0], True)


def test_dockerfile_pins_the_build_tools_too(dockerfile):
    runs = " ".join(the("RUN", dockerfile))
    pins = dict(re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', runs))
    for tool in ("pip", "setuptools", "wheel"):
        assert tool in pins, f"{tool} is not pinned"
    assert "--no-build-isolation" in runs, "else pip fetches an unpinned build backend"
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    assert {re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in requires} <= set(pins)


def test_gitignore_covers_the_folders_the_docs_create():
    ignored = (REPO / ".gitignore").read_text().split()
    guide = (REPO / "docs" / "deploy.md").read_text()
    made = {d for line in re.findall(r"mkdir -p ([^\n`#]+)", guide) for d in line.split()}
    assert made and all(f"/{d}/" in ignored for d in made), f"not ignored: {[d for d in made if f'/{d}/' not in ignored]}"


def test_docs_never_start_profiles_from_the_command_line():
    """`up --profile X` then `down` without it leaves X's containers running."""
    for path in ("docs/deploy.md", "README.md"):
        text = (REPO / path).read_text()
        assert not re.search(r"docker compose[^\n`]*--profile", text), path
        assert not re.search(r"COMPOSE_PROFILES=\S+ [A-Z_]*=?\S* *docker compose", text), path


def test_live_page_is_on_in_the_containers_and_only_the_demo_publishes_it_on_localhost(services, env_example):
    from logger.config import load_settings

    for name in ("logger", "logger-demo"):
        env = service_environment(services[name], env_example)
        settings = load_settings(REPO / "config" / "settings.yml", env=env, dotenv=None, check_dirs=False)
        assert settings.web.listen == "0.0.0.0:8000", name
        assert env["UNIT_PRICE_JPY_PER_KWH"] == env_example["UNIT_PRICE_JPY_PER_KWH"]
    assert services["logger-demo"]["ports"] == ["127.0.0.1:8000:8000"]
    published = {name: svc.get("ports", []) for name, svc in services.items()}
    assert [n for n, ports in published.items() if any(str(p).endswith(":8000") for p in ports)] == ["logger-demo"]
    assert "ports" not in services["logger"], "the meter service publishes nothing unless the user uncomments it"
    assert load_settings(REPO / "config" / "settings.yml", env={}, dotenv=None, check_dirs=False).web.listen is None
