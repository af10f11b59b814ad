"""The logger services' container commands, run on the host exactly as compose would run them:
the Dockerfile ENTRYPOINT + the service's command, the Dockerfile's ENV overridden by the service's
``environment:`` (interpolated from .env.example's safe placeholders), the Dockerfile's WORKDIR, and
every container path (/config, /data, /state, /dev/ttyUSB0) mapped to a temp path."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent / "integration"))

from services import REPO, load_compose, parse_volume, read_env_file, service_environment, wait_until  # noqa: E402

BOUND = 180.0  # seconds; scan + join + first cycles of the simulated meter


def dockerfile_value(instruction: str) -> str:
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(instruction + " ")][-1]


class Container:
    def __init__(self, service: str, root: Path, device: Path | None = None) -> None:
        svc = load_compose()["services"][service]
        self.svc = svc
        self.root = root
        self.mounts: dict[str, Path] = {}
        for source, target, _ro in map(parse_volume, svc["volumes"]):
            if source == "./config":
                self.mounts[target] = REPO / "config"
            else:
                self.mounts[target] = root / target.strip("/")
                self.mounts[target].mkdir(parents=True, exist_ok=True)
        if device is not None:
            self.mounts["/dev/ttyUSB0"] = device
        entry = json.loads(dockerfile_value("ENTRYPOINT"))
        assert entry == ["smartmeter-logger"]
        # the console script is logger.cli:main; `python -m logger` is the same entry point
        self.argv = [sys.executable, "-m", "logger"] + [self.map(a) for a in svc["command"]]
        env_example = read_env_file(REPO / ".env.example")
        env = {"PATH": os.environ["PATH"], "HOME": str(root), "LANG": "C.UTF-8", "PYTHONPATH": str(REPO)}
        # Dockerfile ENV, then the service's environment: (its values interpolated from .env; the
        # service has no env_file, so nothing else from .env reaches the container)
        assert "env_file" not in svc
        for item in re.findall(r"(\w+)=(\S+)", dockerfile_value("ENV")):
            env[item[0]] = item[1].replace("$PATH", env["PATH"])
        env.update(service_environment(svc, env_example))
        self.env = {k: self.map(v) for k, v in env.items()}
        self.cwd = self.map(dockerfile_value("WORKDIR").strip())
        self.proc: subprocess.Popen | None = None
        self.log_path = root / "container.log"

    def map(self, value: str) -> str:
        for target in sorted(self.mounts, key=len, reverse=True):
            if value == target or value.startswith(target + "/"):
                return str(self.mounts[target]) + value[len(target):]
        return value

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # what `docker compose stop` sends
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else 0

    def healthcheck(self) -> int:
        test = self.svc["healthcheck"]["test"]
        assert test[0] == "CMD"
        argv = [sys.executable if test[1] == "python" else test[1]] + [self.map_inline(a) for a in test[2:]]
        return subprocess.run(argv, env=self.env, cwd=self.cwd).returncode

    def map_inline(self, text: str) -> str:
        for target in sorted(self.mounts, key=len, reverse=True):
            text = text.replace(f"'{target}/", f"'{self.mounts[target]}/")
            if text.startswith(f"{target}/"):
                text = f"{self.mounts[target]}{text[len(target):]}"
        return text


def data_rows(data: Path) -> list[list[str]]:
    rows = []
    for f in sorted(data.glob("*.csv")):
        with open(f, newline="") as fh:
            lines = list(csv.reader(fh))
        if lines:
            assert lines[0] == ["timestamp", "unitid", "epc", "dataid", "value"]
            rows += lines[1:]
    return rows


def run_until_recording(c: Container) -> list[list[str]]:
    data = c.mounts["/data"]
    assert c.healthcheck() != 0, "no heartbeat yet: unhealthy"
    c.start()
    try:
        ok = wait_until(lambda: c.proc.poll() is not None or (
            any(r[2] == "E7" for r in data_rows(data)) and (c.mounts["/state"] / "heartbeat").exists()), timeout=BOUND, interval=1)
        assert c.proc.poll() is None, f"exited {c.proc.returncode}:\n{c.log()[-3000:]}"
        assert ok, c.log()[-3000:]
        assert c.healthcheck() == 0, "heartbeat present and fresh: healthy"
    finally:
        rc = c.stop()
    assert rc == 0, f"SIGTERM must stop it cleanly (exit 0), got {rc}:\n{c.log()[-3000:]}"
    rows = data_rows(data)
    assert rows and all(r[1] == "smartmeter" for r in rows)
    env_example = read_env_file(REPO / ".env.example")
    for secret in ("BROUTE_PASSWORD", "BROUTE_ID", "INFLUXDB_TOKEN"):
        assert env_example[secret] not in c.log(), f"{secret} appears in the log"
    return rows


def test_demo_service_command_records_csv_and_turns_healthy(tmp_path):
    c = Container("logger-demo", tmp_path)
    assert "--simulate" in c.argv
    assert c.env["CSV_DIR"] == str(tmp_path / "data") and c.env["STATE_DIR"] == str(tmp_path / "state")
    rows = run_until_recording(c)
    assert {r[2] for r in rows} >= {"E7"}


def test_meter_service_command_works_with_env_example_on_a_simulated_dongle(tmp_path):
    """The real `logger` service: its /dev/ttyUSB0 is the simulator's pty, the B-route ID and
    password are .env.example's placeholders (the simulated meter is told to expect them)."""
    env_example = read_env_file(REPO / ".env.example")
    link = tmp_path / "ttyUSB0"
    sim_log = tmp_path / "simulate.log"
    with open(sim_log, "wb") as log:
        sim = subprocess.Popen(
            [sys.executable, "-m", "logger", "simulate", "--link", str(link), "--min-scan-duration", "4",
             "--rbid", env_example["BROUTE_ID"], "--password", env_example["BROUTE_PASSWORD"]],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert wait_until(lambda: sim.poll() is not None or link.exists(), timeout=30) and sim.poll() is None, \
            sim_log.read_text()
        c = Container("logger", tmp_path / "root", device=link)
        assert c.env["SERIAL_PORT"] == str(link)
        rows = run_until_recording(c)
        assert {r[2] for r in rows} >= {"E7"}
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=20)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()
