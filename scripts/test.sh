#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need, builds the
# real Telegraf and influxd (cached outside the repo), runs the stack under a real Docker
# engine (scripts/test-compose.sh, as root), then the whole pytest suite, integration and
# bounded slow tests included. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '%s test.sh: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Debian packages: pkg-config + gcc for influxd's build, mosquitto for the MQTT forwarding test,
# util-linux for setpriv (permission tests drop root's bypass: tests/privileges.py).
APT_PACKAGES=(pkg-config gcc mosquitto mosquitto-clients util-linux)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})"; exit 1
  fi
fi
# A running mosquitto service would hold port 1883; tests start their own broker on a free port.
if command -v systemctl >/dev/null 2>&1; then systemctl stop mosquitto >/dev/null 2>&1 || true; fi

log "installing the package and its test dependencies"
python3 -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v -i "running pip as the 'root' user" >&2 || true
python3 -c 'import logger, pytest, xdist, hypothesis, momonga, broute_j11' \
  || { log "python dependencies missing after pip install"; exit 1; }

log "building (or reusing) the real Telegraf and influxd"
scripts/test-services.sh all

# The stack under a real Docker engine (its own dockerd, so root only): docker-compose.yml and
# the Dockerfile as docs/deploy.md uses them. Cached next to Telegraf/influxd; a warm run ~3 min.
if [[ $(id -u) -eq 0 ]]; then
  log "running the stack under a real Docker engine (scripts/test-compose.sh)"
  scripts/test-compose.sh
elif [[ "${CI:-}" == true ]]; then
  log "scripts/test-compose.sh needs root (it starts its own dockerd): run CI as root"; exit 1
else
  log "NOT RUN: scripts/test-compose.sh needs root (its own dockerd); run: sudo scripts/test-compose.sh"
fi

# Most slow tests wait on real time (radio timing, Telegraf flushes), not on the CPU: three
# workers on two cores roughly halve the wall time. PYTEST_WORKERS=0 runs in one process.
log "running the tests"
exec python3 -m pytest -n "${PYTEST_WORKERS:-3}" "$@"
