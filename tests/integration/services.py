"""Start and stop the REAL influxd and Telegraf for the integration tests; read docker-compose.yml.

Nothing here is mocked: the binaries are the ones `scripts/test-services.sh` builds (pinned
Telegraf v1.39.3, influxd v2.7.12). When one is missing the tests fail with the command that
builds it.

Compose helpers (`load_compose`, `interpolate`, `service_environment`) are shared with
tests/test_stack_compose.py so the tests derive Telegraf's environment, mounts and command from
docker-compose.yml instead of repeating them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
TELEGRAF_CONF = REPO / "telegraf.conf"
BUILD_SCRIPT = REPO / "scripts" / "test-services.sh"
BUILD_HINT = "build them with: scripts/test-services.sh   (telegraf: a few minutes; influxd: 25-40 minutes)"


class ServiceError(RuntimeError):
    pass


# --------------------------------------------------------------------------- binaries


def binary_paths() -> dict[str, Path]:
    """KEY=path lines of `scripts/test-services.sh --print` (TELEGRAF_BIN, INFLUXD_BIN)."""
    out = subprocess.run(["bash", str(BUILD_SCRIPT), "--print"], check=True, capture_output=True, text=True).stdout
    paths = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if value:
            paths[key.strip()] = Path(value.strip())
    return paths


def require_binary(key: str) -> Path:
    """The path of a built binary, or ServiceError naming the build command (tests must FAIL, not skip)."""
    path = binary_paths().get(key)
    if path is None or not (path.is_file() and os.access(path, os.X_OK)):
        raise ServiceError(f"{key} not found at {path}: the integration tests need the real binaries; {BUILD_HINT}")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.25) -> Any:
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` passes; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def _base_env(home: Path) -> dict[str, str]:
    """A clean environment: no INFLUXD_*/INFLUXDB_* or proxies leaking in from the caller."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "TZ": "UTC"}
    return env


def _stop_process(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


# --------------------------------------------------------------------------- influxd


@dataclass
class InfluxD:
    """A real influxd on 127.0.0.1:<free port> with its data in ``workdir`` (kept across stop/start)."""

    binary: Path
    workdir: Path
    org: str = "smartmeter-test"
    bucket: str = "smartmeter"
    token: str = "integration-test-token-0123456789"
    username: str = "admin"
    password: str = "integration-pass-123"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    org_id: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "influxd.log"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def start(self, timeout: float = 90.0) -> None:
        home = self.workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        argv = [
            str(self.binary),
            "--bolt-path", str(self.workdir / "influxd.bolt"),
            "--engine-path", str(self.workdir / "engine"),
            "--sqlite-path", str(self.workdir / "influxd.sqlite"),
            "--http-bind-address", f"127.0.0.1:{self.port}",
            "--reporting-disabled",
            "--ui-disabled",
            "--log-level", "warn",
        ]  # fmt: skip
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, cwd=self.workdir, env=_base_env(home), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        ok = wait_until(lambda: self.proc.poll() is not None or self._healthy(), timeout=timeout)
        if self.proc.poll() is not None or not ok:
            raise ServiceError(f"influxd did not become healthy on {self.url}:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                return r.status == 200 and json.load(r).get("status") == "pass"
        except (OSError, ValueError):
            return False

    def stop(self) -> int:
        rc = _stop_process(self.proc) if self.proc else 0
        self.proc = None
        return rc

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---- HTTP API
    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token is not False:  # type: ignore[comparison-overlap]
            req.add_header("Authorization", f"Token {token or self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            raise ServiceError(f"{method} {path}: HTTP {e.code}: {e.read().decode(errors='replace')}") from None
        return json.loads(text) if text.strip() else None

    def setup(self) -> None:
        """Headless onboarding: the first user, org, bucket and the operator token."""
        body = {
            "username": self.username,
            "password": self.password,
            "org": self.org,
            "bucket": self.bucket,
            "retentionPeriodSeconds": 0,
            "token": self.token,
        }
        result = self.api("POST", "/api/v2/setup", body, token=False)  # type: ignore[arg-type]
        self.org_id = result["org"]["id"]

    def create_bucket(self, name: str) -> str:
        self.api("POST", "/api/v2/buckets", {"orgID": self.org_id, "name": name, "retentionRules": []})
        return name

    def create_token(self, description: str, permissions: list[tuple[str, str]]) -> str:
        """An authorization limited to (action, bucket name) pairs, e.g. [("read", "b")]."""
        buckets = {b["name"]: b["id"] for b in self.api("GET", f"/api/v2/buckets?orgID={self.org_id}&limit=100")["buckets"]}
        perms = [
            {"action": action, "resource": {"type": "buckets", "id": buckets[name], "orgID": self.org_id}}
            for action, name in permissions
        ]
        auth = self.api("POST", "/api/v2/authorizations", {"orgID": self.org_id, "description": description, "permissions": perms})
        return auth["token"]

    def write_lp(self, bucket: str, lines: list[str], precision: str = "ms") -> None:
        req = urllib.request.Request(
            f"{self.url}/api/v2/write?org={self.org}&bucket={bucket}&precision={precision}",
            data="\n".join(lines).encode(),
            method="POST",
        )
        req.add_header("Authorization", f"Token {self.token}")
        with urllib.request.urlopen(req, timeout=30) as r:
            if r.status != 204:
                raise ServiceError(f"write failed: HTTP {r.status}")

    def query(self, flux: str) -> list[dict[str, Any]]:
        """Run Flux; every record of every table as a dict (``_time`` is an aware datetime)."""
        from influxdb_client import InfluxDBClient

        with InfluxDBClient(url=self.url, token=self.token, org=self.org, timeout=60_000) as client:
            tables = client.query_api().query(flux, org=self.org)
        return [dict(record.values) for table in tables for record in table.records]

    def count(self, bucket: str, extra_filter: str = "true") -> int:
        rows = self.query(
            f'from(bucket: "{bucket}") |> range(start: 0, stop: 2100-01-01T00:00:00Z) '
            f'|> filter(fn: (r) => r._measurement == "smartmeter" and ({extra_filter})) '
            '|> group() |> count()'
        )
        return int(rows[0]["_value"]) if rows else 0


# --------------------------------------------------------------------------- compose

_VAR = re.compile(r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def compose_variables(text: str) -> set[str]:
    """Every variable a compose/Telegraf text interpolates (``${VAR}``, ``${VAR:-x}``, ``$VAR``)."""
    names = set()
    for m in _VAR.finditer(text):
        name = m.group("braced") or m.group("bare")
        if name:
            names.add(name)
        if m.group("arg"):
            names |= compose_variables(m.group("arg"))
    return names


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alt}`` (defaults may nest)."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("bare")
        op, arg = m.group("op"), interpolate(m.group("arg") or "", variables)
        val = variables.get(name)
        if op in (":-", "-"):
            return val if (val if op == ":-" else val is not None) else arg
        if op in (":?", "?"):
            if (not val) if op == ":?" else val is None:
                raise ServiceError(f"required variable {name} is missing: {arg}")
            return val  # type: ignore[return-value]
        if op in (":+", "+"):
            return arg if ((val if op == ":+" else val is not None)) else ""
        return val or ""

    return _VAR.sub(repl, value)


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def service_environment(service: dict[str, Any], variables: Mapping[str, str]) -> dict[str, str]:
    """The ``environment:`` of a compose service, interpolated (list or mapping form)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, variables.get(item, "")) for item in env)
    return {k: interpolate(str(v), variables) if v is not None else variables.get(k, "") for k, v in env.items()}


def parse_volume(spec: str | dict[str, Any]) -> tuple[str, str, bool]:
    """(source, target, read_only) of a short or long volume entry."""
    if isinstance(spec, dict):
        return spec.get("source", ""), spec["target"], bool(spec.get("read_only", False))
    parts = re.split(r":(?![^{]*\})", spec)  # a ":" inside ${VAR:-default} is not a separator
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) > 2 else ""
    return source, target, "ro" in mode.split(",")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a .env file (comments and blank lines ignored, quotes stripped)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


# --------------------------------------------------------------------------- telegraf


class Telegraf:
    """The compose service ``telegraf`` run on the host: same argv, same environment, the same
    config files (the project's telegraf.conf and telegraf.d/), with every container path
    mapped to a host directory the way its volumes would mount them.

    ``mounts`` maps container targets of *named or host-directory* volumes (e.g. ``/data``,
    ``/var/lib/telegraf``) to temp dirs; file/dir volumes whose source is in the repository
    (``./telegraf.conf``) are used from the repository, copied with the container paths
    rewritten.
    """

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        variables: Mapping[str, str],
        mounts: Mapping[str, Path],
        extra_confd: Mapping[str, str] | None = None,
        service_name: str = "telegraf",
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        compose = load_compose()
        self.service = compose["services"][service_name]
        self.env = {**_base_env(workdir), **service_environment(self.service, variables)}
        self.mounts = dict(mounts)
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / "telegraf.log"
        self.path_map: dict[str, Path] = {}
        repo_mounts = []
        for spec in self.service.get("volumes", []):
            source, target, _ro = parse_volume(spec)
            if target in self.mounts:
                self.path_map[target] = Path(self.mounts[target])
            elif source.startswith("./"):
                repo_mounts.append((REPO / source[2:], target))
            else:
                raise ServiceError(f"no host directory given for the telegraf volume {spec!r}")
        # Config files from the repository, with container paths rewritten to host paths.
        for source, target in repo_mounts:
            dest = workdir / "mnt" / target.lstrip("/")
            if source.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                for f in source.iterdir():
                    if f.is_file():
                        (dest / f.name).write_text(self.rewrite(f.read_text()))
                for name, text in (extra_confd or {}).items():
                    (dest / name).write_text(self.rewrite(text))
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(self.rewrite(source.read_text()))
            self.path_map[target] = dest
        command = self.service.get("command")
        if isinstance(command, str):
            command = command.split()
        entry = self.service.get("entrypoint") or []
        argv = ([entry] if isinstance(entry, str) else list(entry)) + list(command or [])
        if not argv or argv[0] != "telegraf":
            raise ServiceError(f"telegraf service command should start with 'telegraf': {argv}")
        self.argv = [str(binary)] + [self.map_arg(a) for a in argv[1:]]

    def map_path(self, container_path: str) -> str:
        for target in sorted(self.path_map, key=len, reverse=True):
            if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
                return str(self.path_map[target]) + container_path[len(target):]
        return container_path

    def map_arg(self, arg: str) -> str:
        return self.map_path(arg) if arg.startswith("/") else arg

    def rewrite(self, text: str) -> str:
        """Container paths inside a config file -> host paths (only the directory mounts)."""
        for target in sorted(self.mounts, key=len, reverse=True):
            host = str(self.mounts[target])
            text = re.sub(r'(["\'])' + re.escape(target) + r"(?=[/\"'])", lambda m: m.group(1) + host, text)
        return text

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        # Started once the configuration is loaded (Telegraf logs its tags after the plugins);
        # callers poll for the effects they expect, and `running` tells if it died since.
        ok = wait_until(lambda: self.proc.poll() is not None or "Tags enabled" in self.log(), timeout=30)
        if self.proc.poll() is not None or not ok:
            raise ServiceError(f"telegraf failed to start ({self.argv}):\n{self.log()[-3000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> int:
        """SIGTERM (a clean stop persists the statefile); the exit status."""
        rc = _stop_process(self.proc, timeout=60) if self.proc else 0
        self.proc = None
        return rc

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def rmtree_quiet(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- grafana

GRAFANA_DASHBOARD_SRC = "/etc/smartmeter/dashboards"
GRAFANA_DASHBOARD_DIR = "/var/lib/grafana/smartmeter-dashboards"


def render_grafana_dashboards(dest: Path, variables: Mapping[str, str]) -> Path:
    """Run the grafana service's start command (the part before ``exec /run.sh``) on the host with
    its environment, the repository's grafana/dashboards as its mount, ``dest`` as its data dir.
    Returns the rendered smartmeter.json (the file Grafana's dashboard provider loads)."""
    svc = load_compose()["services"]["grafana"]
    assert svc["entrypoint"] == ["/bin/sh", "-c"], svc["entrypoint"]
    script = interpolate(svc["command"][0], {})  # compose turns $$ into $ (no compose variables here)
    mounts = {t: s for s, t, _ in map(parse_volume, svc["volumes"])}
    assert mounts[GRAFANA_DASHBOARD_SRC] == "./grafana/dashboards"
    assert script.rstrip().endswith("exec /run.sh")
    script = script.rstrip()[: -len("exec /run.sh")] + "exit 0"
    script = script.replace(GRAFANA_DASHBOARD_SRC, str(REPO / "grafana" / "dashboards"))
    script = script.replace(GRAFANA_DASHBOARD_DIR, str(dest))
    env = {**_base_env(dest), **service_environment(svc, variables)}
    subprocess.run(["/bin/sh", "-c", script], check=True, env=env)
    return dest / "smartmeter.json"


def grafana_flux(query: str, variables: Mapping[str, str], start: str, stop: str, window: str = "10m") -> str:
    """A panel query as Grafana's InfluxDB (Flux) datasource sends it: dashboard variables
    ``${name}``/``$name`` and the macros v.timeRangeStart, v.timeRangeStop, v.windowPeriod replaced."""
    out = query
    for name in sorted(variables, key=len, reverse=True):
        out = out.replace("${" + name + "}", variables[name]).replace("$" + name, variables[name])
    out = out.replace("v.timeRangeStart", f'time(v: "{start}")').replace("v.timeRangeStop", f'time(v: "{stop}")')
    out = out.replace("v.windowPeriod", window)
    return out
