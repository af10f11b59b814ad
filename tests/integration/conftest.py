"""Fixtures for the integration tests: the REAL influxd and Telegraf (never mocked).

- ``influxdb`` (session): influxd v2 on 127.0.0.1:<free port> in a temp dir, set up the way the
  compose ``influxdb`` service's DOCKER_INFLUXDB_INIT_* would do it with the values of
  .env.example (org, bucket, admin token), so a mismatch between the services shows here.
- ``bucket`` (function): a fresh, empty bucket per test.
- ``telegraf_factory`` (function): starts the compose ``telegraf`` service's command on the
  host with the project's telegraf.conf, the compose environment and temp dirs for its
  volumes; stops everything it started (SIGTERM) at the end of the test.

Missing binaries FAIL the tests with the command that builds them (scripts/test-services.sh).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from services import (  # noqa: E402
    REPO,
    InfluxD,
    ServiceError,
    Telegraf,
    interpolate,
    load_compose,
    read_env_file,
    require_binary,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(pytest.mark.integration)


def _binary(key: str) -> Path:
    try:
        return require_binary(key)
    except ServiceError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def env_example() -> dict[str, str]:
    """The .env a user starts from (safe placeholders)."""
    return read_env_file(REPO / ".env.example")


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory, env_example: dict[str, str]) -> Iterator[InfluxD]:
    binary = _binary("INFLUXD_BIN")
    init = load_compose()["services"]["influxdb"]["environment"]
    values = {k: interpolate(str(v), env_example) for k, v in init.items()}
    server = InfluxD(
        binary=binary,
        workdir=tmp_path_factory.mktemp("influxd"),
        org=values["DOCKER_INFLUXDB_INIT_ORG"],
        bucket=values["DOCKER_INFLUXDB_INIT_BUCKET"],
        token=values["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"],
        username=values["DOCKER_INFLUXDB_INIT_USERNAME"],
        password=values["DOCKER_INFLUXDB_INIT_PASSWORD"],
    )
    try:
        server.start()
        server.setup()
    except ServiceError as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


_bucket_seq = iter(range(1, 1_000_000))


@pytest.fixture
def bucket(influxdb: InfluxD, request: pytest.FixtureRequest) -> str:
    """A fresh empty bucket for this test."""
    if not influxdb.running:  # a previous test stopped it and failed before starting it again
        influxdb.start()
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in request.node.name)[:40]
    name = f"t{next(_bucket_seq)}-{safe}"
    return influxdb.create_bucket(name)


@pytest.fixture
def telegraf_factory(tmp_path: Path, influxdb: InfluxD, env_example: dict[str, str]) -> Iterator:
    """``make(bucket, data_dir, state_dir, token=None, extra_confd=None) -> Telegraf`` (not started)."""
    started: list[Telegraf] = []
    binary = _binary("TELEGRAF_BIN")

    def make(
        bucket: str,
        data_dir: Path,
        state_dir: Path,
        token: str | None = None,
        extra_confd: dict[str, str] | None = None,
        name: str = "telegraf",
    ) -> Telegraf:
        variables = {
            **env_example,
            "INFLUXDB_URL": influxdb.url,
            "INFLUXDB_TOKEN": token or influxdb.token,
            "INFLUXDB_ORG": influxdb.org,
            "INFLUXDB_BUCKET": bucket,
        }
        tg = Telegraf(
            binary,
            tmp_path / name,
            variables,
            mounts={"/data": data_dir, "/var/lib/telegraf": state_dir},
            extra_confd=extra_confd,
        )
        started.append(tg)
        return tg

    yield make
    for tg in started:
        tg.stop()
