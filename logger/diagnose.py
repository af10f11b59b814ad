"""The checks behind ``smartmeter-logger doctor``, one :class:`Check` (one output line) each.

Only the checks that do not talk to the dongle: settings, credentials, serial port,
InfluxDB and directories. Each is a plain function returning :class:`Check` objects (they
touch files and HTTP, never the serial port's data). The credentials rule is
:mod:`logger.skstack.credentials`, the port explanations :mod:`logger.port_errors`.

Secrets (B-route ID and password, InfluxDB token) never appear in a check: only their
lengths.
"""

from __future__ import annotations

import enum
import errno
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from logger.config_dirs import existing_ancestor
from logger.port_errors import explain_port_error, in_docker
from logger.secrets import MASK, Secret
from logger.skstack.credentials import CredentialError, check_password, check_rbid

class Status(enum.StrEnum):
    """The verdict of one check (printed as the first word of its line)."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


OK, WARN, FAIL, SKIP = Status.OK, Status.WARN, Status.FAIL, Status.SKIP


@dataclass(frozen=True)
class Check:
    """One line of the report. ``config_error`` makes the exit code 2 instead of 1."""

    name: str
    status: Status
    found: str
    fix: str | None = None
    config_error: bool = False

    def line(self) -> str:
        text = f"{self.status:<4} {self.name}: {self.found}"
        if self.fix and self.status in (WARN, FAIL):
            text += f" -- fix: {self.fix}"
        return text


def skipped(name: str, reason: str) -> Check:
    return Check(name, SKIP, f"skipped: {reason}")


def scrub(text: str, secrets: list[str]) -> str:
    """Last line of defence: mask any secret value that still made it into ``text``."""
    for value in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def exit_code(checks: list[Check]) -> int:
    """2 when a configuration error was found, 1 for any other FAIL, else 0."""
    failed = [c for c in checks if c.status == FAIL]
    if any(c.config_error for c in failed):
        return 2
    return 1 if failed else 0


# --------------------------------------------------------------------------- 2. credentials


def check_credentials(rbid: Secret | None, password: Secret | None) -> Check:
    """Present and well-formed (:mod:`logger.skstack.credentials`); reports lengths only."""
    problems: list[str] = []
    fixes: list[str] = []
    for env, value, check in (("BROUTE_ID", rbid, check_rbid), ("BROUTE_PASSWORD", password, check_password)):
        if value is None or not value.reveal():
            problems.append(f"{env} is not set")
            fixes.append(f"set {env} in .env (copy it from the utility's B-route letter)")
            continue
        try:
            check(value.reveal())
        except CredentialError as exc:
            problems.append(f"{env}: {exc.what} {exc.problem}")
            fixes.append(f"{exc.fix}; set {env} in .env")
    if problems:
        return Check("credentials", FAIL, "; ".join(problems), "; ".join(fixes), config_error=True)
    return Check("credentials", OK, f"B-route ID present ({len(rbid)} characters), "  # type: ignore[arg-type]
                 f"password present ({len(password)} characters)")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- 3. serial port


def port_precheck(port: str | None) -> Check | None:
    """Existence and permissions before opening (None = go ahead and open)."""
    if port is None or port == "":
        return Check("serial port", FAIL, "serial.port is not set", "set SERIAL_PORT in .env "
                     "(e.g. /dev/serial/by-id/usb-...; ls -l /dev/serial/by-id/ lists them)", config_error=True)
    if "://" in port:
        return None
    if not os.path.exists(port):
        found, fix = explain_port_error(port, FileNotFoundError(errno.ENOENT, "No such file"))
        return Check("serial port", FAIL, found, fix)
    if not os.access(port, os.R_OK | os.W_OK):
        found, fix = explain_port_error(port, PermissionError(errno.EACCES, "Permission denied"))
        return Check("serial port", FAIL, found, fix)
    return None


def port_opened(port: str) -> Check:
    if "://" in port:
        return Check("serial port", OK, f"{port} reachable (connection opened)")
    return Check("serial port", OK, f"{port} exists, is readable/writable by this user and not held by another "
                                    "program (opened exclusively)")


def port_failed(port: str, exc: BaseException) -> Check:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    found, fix = explain_port_error(port, cause)
    return Check("serial port", FAIL, found, fix)


# --------------------------------------------------------------------------- 6. InfluxDB


def _influx_fix(org: str, bucket: str) -> str:
    return ("create a token that may write to that one bucket and put it in INFLUXDB_TOKEN: "
            f"influx bucket list --org {org} --name {bucket} (note the ID), then "
            f"influx auth create --org {org} --write-bucket <BUCKET_ID> --description smartmeter-logger")


def check_influx(url: str | None, token: Secret | None, org: str | None, bucket: str | None,
                 timeout_s: float = 5.0) -> list[Check]:
    """Reachable (/health), then token allowed to write the bucket (an empty write)."""
    import urllib.error
    import urllib.request

    from logger.sinks.influx_sink import InfluxWriteError, check_write_access

    missing = [env for env, v in (("INFLUXDB_URL", url), ("INFLUXDB_TOKEN", token and token.reveal()),
                                  ("INFLUXDB_ORG", org), ("INFLUXDB_BUCKET", bucket)) if not v]
    if missing:
        return [Check("influxdb", FAIL, f"{', '.join(missing)} not set", "set them in .env", config_error=True)]
    assert url and token and org and bucket
    if not re.match(r"https?://", url):
        return [Check("influxdb", FAIL, f"INFLUXDB_URL {url!r} does not start with http:// or https://",
                      "set INFLUXDB_URL to e.g. http://influxdb:8086 (in Docker) or http://localhost:8086",
                      config_error=True)]
    health_url = f"{url.rstrip('/')}/health"
    try:
        with urllib.request.urlopen(urllib.request.Request(health_url), timeout=timeout_s) as response:
            body = response.read(2000).decode("utf-8", "replace")
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(2000).decode("utf-8", "replace"), exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        docker = " (inside Docker use http://influxdb:8086, not localhost)" if in_docker() else ""
        return [Check("influxdb", FAIL, f"{url} is unreachable ({reason})",
                      f"start InfluxDB (docker compose up -d influxdb) and check INFLUXDB_URL{docker}"),
                skipped("influxdb write", "InfluxDB is unreachable")]
    try:
        data = json.loads(body)
    except ValueError:
        data = {}
    if status != 200 or not isinstance(data, dict) or data.get("status") != "pass":
        shown = data.get("message") if isinstance(data, dict) and data.get("message") else body.strip()[:120]
        return [Check("influxdb", FAIL, f"{health_url} answered HTTP {status} ({shown})",
                      "check that INFLUXDB_URL points at InfluxDB v2 and that it finished starting (docker compose "
                      "logs influxdb)"),
                skipped("influxdb write", "InfluxDB is not healthy")]
    version = data.get("version", "?")
    checks = [Check("influxdb", OK, f"{url} reachable (/health: pass, version {version})")]
    try:
        message = check_write_access(url, token.reveal(), org, bucket, timeout_s=timeout_s)
    except InfluxWriteError as exc:
        text = str(exc)
        if "HTTP 401" in text:
            found = f"the token was rejected (HTTP 401: unknown or revoked token) for bucket {bucket!r} in org {org!r}"
        elif "refused the write" in text:
            found = f"the token may not write to bucket {bucket!r} in org {org!r} ({text.split(';')[0]})"
        else:
            found = text
        checks.append(Check("influxdb write", FAIL, found, _influx_fix(org, bucket)))
        return checks
    checks.append(Check("influxdb write", OK, message))
    return checks


# --------------------------------------------------------------------------- 7. directories


def check_directory(name: str, env: str, directory: Path) -> Check:
    """Writable (a probe file is created and removed), or creatable when it does not exist yet."""
    fix = (f"make it writable for this user (sudo chown -R $(id -u):$(id -g) {directory}) or point {env} "
           "elsewhere; in Docker check the volume mount and the container's user")
    if directory.exists():
        if not directory.is_dir():
            return Check(name, FAIL, f"{directory} is not a directory", f"point {env} at a directory")
        try:
            with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-", delete=True) as fh:
                fh.write(b"ok")
                fh.flush()
        except OSError as exc:
            return Check(name, FAIL, f"{directory} is not writable ({exc.strerror})", fix)
        return Check(name, OK, f"{directory} is writable")
    probe = existing_ancestor(directory)
    if probe.exists() and not probe.is_dir():
        return Check(name, FAIL, f"cannot create {directory}: {probe} is not a directory", f"point {env} elsewhere")
    if not os.access(probe, os.W_OK | os.X_OK):
        return Check(name, FAIL, f"cannot create {directory}: {probe} is not writable", fix)
    return Check(name, OK, f"{directory} does not exist yet; it will be created (in {probe}, writable)")
