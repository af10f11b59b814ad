"""Checks for scripts/test-compose.sh, run on the host against the stack under a real engine.

    check.py quickstart DEPLOY_MD          the quick-start commands, one per line (every block marked
                                           as the quick start, Japanese and English, holds the same)
    check.py set-env ENV_FILE <KEY=VALUE   set keys in a .env file (lines on stdin: fake test values)
    check.py rows DATA_DIR                 number of complete CSV data rows
    check.py no-duplicates DATA_DIR        no (series, time) twice in the CSV files
    check.py equal ENV_FILE DATA_DIR URL [--timeout S]
                                           CSV rows == InfluxDB points (series, times, values),
                                           waiting up to S seconds for InfluxDB to catch up
    check.py influx-count ENV_FILE URL     points in the bucket
    check.py influx-delete ENV_FILE URL    delete every point of the bucket
    check.py telegraf-offsets STATEFILE DATA_DIR
                                           the statefile holds an offset for each CSV file
    check.py env-secrets ENV_FILE          (docker inspect JSON on stdin) each container holds
                                           only the secrets of .env it needs
    check.py page URL ENV_FILE             the live page (run --web) answers at URL: the page, the
                                           status (connected), today's curve, the energy; no secret

The InfluxDB token is read from ENV_FILE, sent in a request header, never printed. Secrets are
named in messages, never shown.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

Key = tuple[str, str, str, int]  # unitid, epc, dataid, epoch ms


def fail(msg: str) -> None:
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def read_env(path: str) -> dict[str, str]:
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, _, v = line.partition("=")
            env[k.strip()] = v.strip()
    return env


# --------------------------------------------------------------------------- docs


def quickstart(deploy_md: str) -> None:
    text = Path(deploy_md).read_text()
    blocks = re.findall(r"<!-- test-compose: quick-start -->\s*```sh\n(.*?)```", text, re.DOTALL)
    if len(blocks) < 2:
        fail(f"{deploy_md}: expected the quick-start blocks (Japanese, English) after "
             f"'<!-- test-compose: quick-start -->', found {len(blocks)}")

    def commands(block: str) -> list[str]:
        return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]

    first, *others = (commands(b) for b in blocks)
    for other in others:
        if other != first:
            fail(f"{deploy_md}: the quick-start blocks differ: {first} != {other}")
    print("\n".join(first))


def set_env(path: str, pairs: list[str]) -> None:
    """KEY=VALUE lines from stdin (so that no value is ever a process argument)."""
    lines = Path(path).read_text().splitlines()
    for pair in pairs:
        key, _, value = pair.partition("=")
        for i, line in enumerate(lines):
            if re.match(rf"#?\s*{re.escape(key)}=", line):
                lines[i] = f"{key}={value}"
                break
        else:
            lines.append(f"{key}={value}")
    Path(path).write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- CSV


def csv_rows(data_dir: str) -> tuple[dict[Key, float], list[Key]]:
    rows: dict[Key, float] = {}
    dupes: list[Key] = []
    files = sorted(Path(data_dir).glob("*.csv"))
    for f in files:
        text = f.read_text()
        if not text.endswith("\n"):  # a line being written: not yet a row
            text = text[: text.rfind("\n") + 1]
        for rec in csv.reader(io.StringIO(text)):
            if not rec or rec[0] == "timestamp":
                continue
            ts, unitid, epc, dataid, value = rec
            ms = round(datetime.fromisoformat(ts).timestamp() * 1000)
            key = (unitid, epc, dataid, ms)
            if key in rows:
                dupes.append(key)
            rows[key] = float(value)
    return rows, dupes


# --------------------------------------------------------------------------- InfluxDB


def request(env: dict[str, str], url: str, path: str, body: dict, params: dict[str, str]) -> bytes:
    q = urllib.parse.urlencode(params)
    req = urllib.request.Request(f"{url}{path}?{q}", data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": "Token " + env["INFLUXDB_TOKEN"], "Content-Type": "application/json",
        "Accept": "application/csv"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read()
    except urllib.error.HTTPError as e:
        fail(f"InfluxDB {path}: HTTP {e.code}: {e.read()[:300].decode(errors='replace')}")
    except OSError as e:
        fail(f"InfluxDB at {url} unreachable: {e}")
    raise AssertionError


def influx_points(env: dict[str, str], url: str) -> dict[Key, float]:
    flux = (f'from(bucket: "{env["INFLUXDB_BUCKET"]}") |> range(start: 0) '
            '|> filter(fn: (r) => r._measurement == "smartmeter" and r._field == "value")')
    raw = request(env, url, "/api/v2/query", {"query": flux, "type": "flux",
                                              "dialect": {"header": True, "annotations": []}},
                  {"org": env["INFLUXDB_ORG"]}).decode()
    points: dict[Key, float] = {}
    for block in re.split(r"\r?\n\r?\n", raw.strip()):
        if not block.strip():
            continue
        for rec in csv.DictReader(io.StringIO(block)):
            # RFC 3339 with up to 9 fraction digits; fromisoformat takes 6 at most
            t = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), rec["_time"])
            ms = round(datetime.fromisoformat(t).timestamp() * 1000)
            points[(rec["unitid"], rec["epc"], rec.get("dataid") or "", ms)] = float(rec["_value"])
    return points


def describe(keys, limit=3) -> str:
    out = []
    for unitid, epc, dataid, ms in sorted(keys, key=lambda k: k[3])[:limit]:
        t = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
        out.append(f"{epc}{'/' + dataid if dataid else ''}@{t}")
    return ", ".join(out) + (" ..." if len(keys) > limit else "")


def equal(env_file: str, data_dir: str, url: str, timeout: float) -> None:
    env = read_env(env_file)
    deadline = time.monotonic() + timeout
    while True:
        rows, dupes = csv_rows(data_dir)
        points = influx_points(env, url)
        missing = rows.keys() - points.keys()
        extra = points.keys() - rows.keys()
        differ = [k for k in rows.keys() & points.keys() if rows[k] != points[k]]
        if not rows:
            problem = f"no CSV rows in {data_dir}"
        elif dupes:
            problem = f"{len(dupes)} CSV rows written twice: {describe(dupes)}"
        elif missing or extra or differ:
            problem = (f"CSV {len(rows)} rows, InfluxDB {len(points)} points: {len(missing)} missing from InfluxDB"
                       f" ({describe(missing)}), {len(extra)} only in InfluxDB ({describe(extra)}),"
                       f" {len(differ)} with other values ({describe(differ)})")
        else:
            series = {k[:3] for k in rows}
            print(f"{len(rows)} CSV rows == {len(points)} InfluxDB points ({len(series)} series, same times and values)")
            return
        if time.monotonic() > deadline:
            fail(problem + f" (after {timeout:.0f} s)")
        time.sleep(2)


def influx_delete(env_file: str, url: str) -> None:
    env = read_env(env_file)
    request(env, url, "/api/v2/delete", {"start": "1970-01-01T00:00:00Z", "stop": "2200-01-01T00:00:00Z",
                                         "predicate": '_measurement="smartmeter"'},
            {"org": env["INFLUXDB_ORG"], "bucket": env["INFLUXDB_BUCKET"]})


# --------------------------------------------------------------------------- Telegraf, secrets


def telegraf_offsets(statefile: str, data_dir: str) -> None:
    path = Path(statefile)
    if not path.is_file():
        fail(f"no Telegraf statefile at {statefile}: the tail offsets were not saved")
    # {"<plugin id>": base64 of the plugin's state as JSON}; inputs.tail's: {"/data/<file>": offset}
    found: dict[str, int] = {}
    for value in json.loads(path.read_text()).values():
        try:
            state = json.loads(base64.b64decode(value)) if isinstance(value, str) else value
        except ValueError:
            continue
        if isinstance(state, dict):
            found.update({k.removeprefix("/data/"): v for k, v in state.items() if isinstance(v, int)})
    files = {p.name: p.stat().st_size for p in Path(data_dir).glob("*.csv")}
    missing = sorted(f for f in files if not found.get(f))
    if missing:
        fail(f"Telegraf statefile {statefile} has no offset for {missing} (offsets seen: {found})")
    print("offsets saved: " + ", ".join(f"{f} at {found[f]} of {size} bytes" for f, size in sorted(files.items())))


SECRETS = {"BROUTE_ID", "BROUTE_PASSWORD", "INFLUXDB_TOKEN", "DOCKER_INFLUXDB_INIT_PASSWORD",
           "GRAFANA_ADMIN_PASSWORD", "MQTT_PASSWORD", "FORWARD_HTTP_TOKEN"}
# service -> the .env secrets it may hold (by value: a secret copied under another name counts)
ALLOWED = {
    "logger": {"BROUTE_ID", "BROUTE_PASSWORD", "INFLUXDB_TOKEN"},
    "logger-demo": {"BROUTE_ID", "BROUTE_PASSWORD", "INFLUXDB_TOKEN"},
    "import": {"INFLUXDB_TOKEN"},
    "telegraf": {"INFLUXDB_TOKEN", "MQTT_PASSWORD", "FORWARD_HTTP_TOKEN"},
    "influxdb": {"INFLUXDB_TOKEN", "DOCKER_INFLUXDB_INIT_PASSWORD"},
    "folders": set(),
    "dongle": set(),
}
REQUIRED = {
    "logger": {"BROUTE_ID", "BROUTE_PASSWORD"},
    "logger-demo": set(),
    "telegraf": {"INFLUXDB_TOKEN"},
    "influxdb": {"INFLUXDB_TOKEN", "DOCKER_INFLUXDB_INIT_PASSWORD"},
}


def env_secrets(env_file: str, extra_required: list[str]) -> None:
    env = read_env(env_file)
    secrets = {k: env[k] for k in SECRETS if env.get(k)}
    if len(set(secrets.values())) != len(secrets):
        fail(f"{env_file}: the test's secrets must all differ to tell them apart")
    required = {s: set(v) for s, v in REQUIRED.items()}
    for item in extra_required:  # service=SECRET
        service, _, name = item.partition("=")
        required.setdefault(service, set()).add(name)
    problems, seen = [], []
    for c in json.load(sys.stdin):
        service = c["Config"]["Labels"].get("com.docker.compose.service", c["Name"])
        values = {v.partition("=")[2] for v in c["Config"]["Env"] or []}
        held = {name for name, secret in secrets.items() if secret in values}
        if service not in ALLOWED:
            problems.append(f"{service}: unknown service, holds {sorted(held)}")
            continue
        if held - ALLOWED[service]:
            problems.append(f"{service} holds {sorted(held - ALLOWED[service])} it does not need")
        if required.get(service, set()) - held:
            problems.append(f"{service} lacks {sorted(required[service] - held)}")
        seen.append(f"{service}: {', '.join(sorted(held)) or 'no secret'}")
    if problems:
        fail("; ".join(problems))
    print("; ".join(seen))


def page(url: str, env_file: str) -> None:
    env = read_env(env_file)
    secrets = [v for k, v in env.items() if k in SECRETS and v]
    answers = {}
    for path in ("", "app.js", "api/status", "api/power", "api/energy"):
        try:
            with urllib.request.urlopen(url + path, timeout=10) as r:
                answers[path] = r.read().decode()
        except (OSError, urllib.error.URLError) as exc:
            fail(f"live page {url}{path}: {exc}")
    status, power = json.loads(answers["api/status"]), json.loads(answers["api/power"])
    if "smartmeterPage" not in answers["app.js"] or status["state"] != "connected" or not power["t"]:
        fail(f"live page {url}: state {status['state']}, {len(power['t'])} point(s) of today's power")
    if len(json.loads(answers["api/energy"])["days"]) != 2:
        fail(f"live page {url}: no energy of today and yesterday")
    shown = [k for k, v in env.items() if k in SECRETS and v and any(v in a for a in answers.values())]
    if shown or not secrets:
        fail(f"live page {url} shows {shown}" if shown else f"{env_file} holds no secret to look for")
    print(f"live page {url}: {status['state']}, {len(power['t'])} point(s) today, no secret")


def main(argv: list[str]) -> None:
    cmd, args = argv[0], argv[1:]
    if cmd == "quickstart":
        quickstart(args[0])
    elif cmd == "set-env":
        set_env(args[0], [line for line in sys.stdin.read().splitlines() if line.strip()])
    elif cmd == "rows":
        print(len(csv_rows(args[0])[0]))
    elif cmd == "no-duplicates":
        rows, dupes = csv_rows(args[0])
        if dupes:
            fail(f"{len(dupes)} CSV rows written twice: {describe(dupes)}")
        print(f"{len(rows)} CSV rows, none twice")
    elif cmd == "equal":
        timeout = float(args[args.index("--timeout") + 1]) if "--timeout" in args else 60
        equal(args[0], args[1], args[2], timeout)
    elif cmd == "influx-count":
        print(len(influx_points(read_env(args[0]), args[1])))
    elif cmd == "influx-delete":
        influx_delete(args[0], args[1])
    elif cmd == "telegraf-offsets":
        telegraf_offsets(args[0], args[1])
    elif cmd == "env-secrets":
        env_secrets(args[0], args[1:])
    elif cmd == "page":
        page(args[0], args[1])
    else:
        fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
