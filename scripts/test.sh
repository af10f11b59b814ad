#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need, builds the
# real Telegraf and influxd (cached outside the repo), runs the stack under a real Docker
# engine (scripts/test-compose.sh, as root), then the whole pytest suite, integration and
# bounded slow tests included. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '%s test.sh: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Debian packages: pkg-config + gcc for influxd's build, mosquitto for the MQTT forwarding test,
# util-linux for setpriv (permission tests drop root's bypass: tests/privileges.py), chromium (and
# Node.js to drive it) for the live page's browser test (tests/test_web_browser.py).
APT_PACKAGES=(pkg-config gcc mosquitto mosquitto-clients util-linux chromium)
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)
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

# playwright-core, pinned, drives Debian's /usr/bin/chromium in the browser test (it downloads no
# browser); installed outside the repository and reused while the version matches.
PLAYWRIGHT_CORE=1.65.1
NODE_DEPS=${SMARTMETER_DEPS:-$HOME/.cache/smartmeter-deps}/node
if [[ "$(node -p "require('$NODE_DEPS/node_modules/playwright-core/package.json').version" 2>/dev/null)" != "$PLAYWRIGHT_CORE" ]]; then
  log "installing playwright-core $PLAYWRIGHT_CORE into $NODE_DEPS"
  mkdir -p "$NODE_DEPS"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$NODE_DEPS" --no-audit --no-fund --silent \
    "playwright-core@$PLAYWRIGHT_CORE" >&2
fi

log "building (or reusing) the real Telegraf and influxd"
scripts/test-services.sh all

# root_only SCRIPT WHAT WHY: a script that needs root runs as root; CI as another user fails; a
# developer without root is told it did not run.
root_only() {
  if [[ $(id -u) -eq 0 ]]; then
    log "$2 (scripts/$1)"
    "scripts/$1"
  elif [[ "${CI:-}" == true ]]; then
    log "scripts/$1 needs root ($3): run CI as root"; exit 1
  else
    log "NOT RUN: scripts/$1 needs root ($3); run: sudo scripts/$1"
  fi
}

# The stack under a real Docker engine (its own dockerd, so root only): docker-compose.yml and
# the Dockerfile as docs/deploy.md uses them. Cached next to Telegraf/influxd; a warm run ~3 min.
root_only test-compose.sh "running the stack under a real Docker engine" "it starts its own dockerd"

# The arm64 and armv7 images under qemu (binfmt handlers, the same engine, so root only): built
# from the Dockerfile, run hardened, unit tests inside armv7 (32-bit time_t). Warm ~1.5-2 min.
root_only test-arm.sh "building and running the ARM images under qemu" "qemu's binfmt handlers and its own dockerd"

# Most slow tests wait on real time (radio timing, Telegraf flushes), not on the CPU: three
# workers on two cores roughly halve the wall time. PYTEST_WORKERS=0 runs in one process.
log "running the tests"
exec python3 -m pytest -n "${PYTEST_WORKERS:-3}" "$@"
