#!/usr/bin/env bash
# The stack under a real Docker engine: the project's own docker-compose.yml and Dockerfile,
# brought up with `docker compose` exactly as docs/deploy.md says, then checked. Exits non-zero
# with a "FAIL:" line naming the check on any failure.
#
#   sudo scripts/test-compose.sh          (root: it runs its own dockerd; called by scripts/test.sh)
#
# What it sets up (cached in $SMARTMETER_DEPS/compose, default ~/.cache/smartmeter-deps/compose,
# next to Telegraf/influxd; cold ~6 min, warm ~3 min):
#   - Debian's docker.io and debootstrap (apt); its own dockerd (own socket, data and exec dirs,
#     pid file; stopped on exit), container egress blocked (iptables DOCKER-USER, checked with -C)
#     before any container starts
#   - the Compose v2 CLI built from the Go module proxy
#   - a Debian bookworm base (debootstrap) and on it local TEST STAND-INS under the names the
#     compose file and Dockerfile use (python:3.11-slim-bookworm, telegraf:1.39.3,
#     influxdb:2.7.12; tests/compose/*/Dockerfile, labelled "test stand-in"), from the Telegraf
#     and influxd scripts/test-services.sh builds: nothing can be pulled from a registry here
#   - the logger image is built by `docker compose up -d` itself from this tree (cached layers)
# Test-only differences from docker-compose.yml live in tests/compose/override.yml (its header).
#
# Checks, in this order, each logged as "== check N" and failing with "FAIL: [check N] ...":
#   1  the docs' quick start (docs/deploy.md, its marked blocks) run literally as root, demo
#      profile: every container healthy (telegraf: running; folders: exited 0), root's folders
#      handed to uid 1000, the demo's live page answers on 127.0.0.1:8000 (no secret in it),
#      CSV rows == InfluxDB points (series, times, values)
#   7  each container's environment holds only the .env secrets it needs (docker inspect)
#   4  faults: restart of the logger; InfluxDB stopped OUTAGE_S seconds (default 30; the issue
#      says a minute: the spool/tail path is the same); `down` (Telegraf exits before InfluxDB
#      is stopped) then `up -d`: no CSV row twice, CSV == InfluxDB, Telegraf's strict-env
#      warning gone
#   5  `docker compose down` leaves no container; InfluxDB volumes and Telegraf offsets stay
#   6  `docker compose run --rm import` with no dongle plugged in re-sends every row to an
#      emptied bucket
#   2  the meter service (the real logger definition) with the simulator as its dongle, the
#      quick start run as uid 1000 (folders stay the user's, CSV readable by the user)
#   3  direct writes (INFLUXDB_ENABLED=true, `up -d --scale telegraf=0`): same rows in InfluxDB;
#      the logger holds the token
# Not run here: the official images themselves and their entrypoints, Grafana and Chronograf
# (no image can be pulled or built here; their provisioning files are checked by pytest).
# On failure the last log lines of each container are printed and the working copies kept.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

COMPOSE_VERSION=v2.40.3
OUTAGE_S=${OUTAGE_S:-30}
SCRIPT=test-compose
# The engine (dockerd, egress block, cleanup, stand-in bases), shared with scripts/test-arm.sh;
# it sets DEPS, ENGINE_CACHE ($DEPS/compose), RUNDIR, BASE_IMAGE, log/step/fail.
source scripts/lib/engine.sh
CACHE=$ENGINE_CACHE
WORK=$CACHE/work

[[ $# -eq 0 ]] || { echo "test-compose.sh: takes no arguments (environment: OUTAGE_S=seconds, SMARTMETER_DEPS=cache dir)" >&2; exit 2; }
[[ $OUTAGE_S =~ ^[0-9]+$ && $OUTAGE_S -ge 1 ]] || { echo "test-compose.sh: OUTAGE_S='$OUTAGE_S' is not a number of seconds: set e.g. OUTAGE_S=30" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "test-compose.sh: must run as root (it starts its own dockerd and firewall rule): sudo scripts/test-compose.sh" >&2; exit 2; }
command -v go >/dev/null || { echo "test-compose.sh: go is not installed (needed to build the Compose CLI): install Go 1.24+ first" >&2; exit 2; }
command -v python3 >/dev/null || { echo "test-compose.sh: python3 is not installed" >&2; exit 2; }
START=$(date +%s)
mkdir -p "$CACHE/logs" "$RUNDIR"
engine_lock

# --------------------------------------------------------------------------- cleanup (trap)

cleanup() {
  local rc=$?
  set +e
  engine_cleanup "$rc"
  if ((rc == 0)); then rm -rf "$WORK"; else log "the working copies are kept for a look: $WORK"; fi
  if ((rc == 0)); then log "all checks passed in $(( $(date +%s) - START )) s"; else log "FAILED (exit $rc) after $(( $(date +%s) - START )) s"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --------------------------------------------------------------------------- tools

need_apt docker.io debootstrap iptables util-linux

# Our docker client (Debian's, same version as the engine) and the Compose plugin, through
# DOCKER_CONFIG: nothing in ~/.docker is touched.
engine_client
# The classic builder (Debian's 20.10 engine has no buildx); build contexts are small.
export COMPOSE_BAKE=false COMPOSE_ANSI=never COMPOSE_PROGRESS=plain COMPOSE_STATUS_STDOUT=0

build_compose() {
  local bin=$CACHE/docker-compose-$COMPOSE_VERSION
  if [[ -x $bin ]] && "$bin" version 2>/dev/null | grep -q "$COMPOSE_VERSION"; then
    ln -sf "$bin" "$CACHE/docker-config/cli-plugins/docker-compose"; return 0
  fi
  log "building the Compose CLI $COMPOSE_VERSION from the Go module proxy (first time: 2-4 min)"
  local dir
  dir=$(GOFLAGS=-modcacherw GOTOOLCHAIN=local go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') \
    || fail "go mod download github.com/docker/compose/v2@$COMPOSE_VERSION failed"
  rm -rf "$CACHE/src-compose" && cp -r "$dir" "$CACHE/src-compose" && chmod -R u+w "$CACHE/src-compose"
  (cd "$CACHE/src-compose" && GOFLAGS=-modcacherw GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" -o "$bin.tmp" ./cmd) \
    >"$CACHE/logs/compose-build.log" 2>&1 || fail "Compose build failed (see $CACHE/logs/compose-build.log)"
  mv "$bin.tmp" "$bin"
  rm -rf "$CACHE/src-compose"
  ln -sf "$bin" "$CACHE/docker-config/cli-plugins/docker-compose"
}

# --------------------------------------------------------------------------- images

build_stand_ins() {
  # The same Telegraf and influxd the integration tests use (cached: a second or two).
  scripts/test-services.sh all 2>"$CACHE/logs/test-services.log" \
    || { tail -5 "$CACHE/logs/test-services.log" >&2; fail "scripts/test-services.sh could not build Telegraf/influxd"; }
  eval "$(scripts/test-services.sh --print)"
  [[ -x $TELEGRAF_BIN && -x $INFLUXD_BIN ]] || fail "Telegraf/influxd are missing after scripts/test-services.sh"
  # The host's extra CA certificates and pip.conf (a re-signing proxy), for pip in the build.
  stand_in python:3.11-slim-bookworm python "$BASE_IMAGE" $(python_host_extras)
  stand_in telegraf:1.39.3 telegraf "$BASE_IMAGE" "$TELEGRAF_BIN"
  stand_in influxdb:2.7.12 influxdb "$BASE_IMAGE" "$INFLUXD_BIN"
  local img
  for img in python:3.11-slim-bookworm telegraf:1.39.3 influxdb:2.7.12; do
    docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.description"}}' "$img" | grep -q '^test stand-in' \
      || fail "$img is not labelled as a test stand-in"
  done
  docker run --rm --network none influxdb:2.7.12 influxd version | grep -q 'v2.7.12' || fail "the influxdb stand-in does not run influxd v2.7.12"
  docker run --rm --network none telegraf:1.39.3 telegraf --version | grep -q '1.39.3' || fail "the telegraf stand-in does not run Telegraf 1.39.3"
}

# --------------------------------------------------------------------------- helpers

CHECK="python3 $REPO/tests/compose/check.py"
PROJECT=smartmeter

# A working copy of the repository, as `git clone` would give (tracked and new files).
clone() {
  local dest=$1
  rm -rf "$dest" && mkdir -p "$dest"
  (cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp -a --parents -t "$dest" 2>/dev/null) \
    || (cd "$REPO" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
          [[ -e $f ]] && cp -a --parents -t "$dest" "$f"; done)
  [[ -f $dest/docker-compose.yml && -f $dest/Dockerfile ]] || fail "could not copy the repository to $dest"
}

# wait_ready SECONDS SERVICE... : the project has exactly these services' containers, each healthy
# (with a healthcheck) or running, and `folders` exited 0.
wait_ready() {
  local timeout=$1; shift
  local want
  want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
  local deadline=$(( $(date +%s) + timeout )) have state bad
  while :; do
    bad=""
    have=$(docker ps -a --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.oneoff=False" \
           --format '{{.Label "com.docker.compose.service"}}' | sort | tr '\n' ' ')
    [[ $have == "$want" ]] || bad="containers are [${have% }], expected [${want% }]"
    if [[ -z $bad ]]; then
      while read -r name status health code restarts; do
        ((restarts < 3)) || fail "$name keeps restarting ($restarts restarts): see its log below"
        case "$name" in
          *-folders-*) [[ $status == exited && $code == 0 ]] || bad+="$name $status (exit $code); " ;;
          *) [[ $status == running && ( $health == healthy || $health == none ) ]] || bad+="$name $status $health; " ;;
        esac
      done < <(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}} {{.RestartCount}}' \
                 $(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT") | sed 's#^/##')
    fi
    [[ -z $bad ]] && { log "ready: ${want% } ($(( timeout - (deadline - $(date +%s)) )) s)"; return 0; }
    (( $(date +%s) < deadline )) || fail "not ready after $timeout s: $bad"
    sleep 1
  done
}

# wait_rows DIR N SECONDS: at least N CSV rows in DIR
wait_rows() {
  local dir=$1 n=$2 timeout=$3 deadline=$(( $(date +%s) + $3 )) have
  while :; do
    have=$($CHECK rows "$dir" 2>/dev/null || echo 0)
    ((have >= n)) && return 0
    (( $(date +%s) < deadline )) || fail "only $have CSV rows in $dir after $timeout s (expected at least $n)"
    sleep 1
  done
}

# Run the quick start of docs/deploy.md as written, line by line; `nano .env` is the edit the
# test makes with fake values ($1: a function). $2: run non-docker lines as this uid (optional).
quick_start() {
  local edit=$1 as_uid=${2:-} line
  local lines
  lines=$($CHECK quickstart "$REPO/docs/deploy.md") || fail "docs/deploy.md: no usable quick start"
  while IFS= read -r line; do
    case "$line" in
      "git clone "*) log "\$ $line   (the test's working copy: $PWD)" ;;
      "nano .env"*) log "\$ $line   (test: fake values)"; $edit ;;
      docker\ *) log "\$ $line"; bash -c "$line" >"$CACHE/logs/last-command.log" 2>&1 \
                   || { tail -20 "$CACHE/logs/last-command.log" >&2; fail "'$line' failed"; } ;;
      *) log "\$ $line${as_uid:+   (as uid $as_uid)}"
         if [[ -n $as_uid ]]; then setpriv --reuid "$as_uid" --regid "$as_uid" --clear-groups bash -c "$line" || fail "'$line' failed as uid $as_uid"
         else bash -c "$line" || fail "'$line' failed"; fi ;;
    esac
  done <<<"$lines"
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Fake values only. The simulator's built-in B-route ID and password (its defaults: fake).
INFLUX_PORT=$(free_port)
# Values go through stdin, never as process arguments.
common_env() {
  {
    echo BROUTE_ID=0123456789ABCDEF0123456789ABCDEF
    echo BROUTE_PASSWORD=SIMPASSWORD1
    echo "INFLUXDB_TOKEN=test-token-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo DOCKER_INFLUXDB_INIT_PASSWORD=test-admin-password
    echo GRAFANA_ADMIN_PASSWORD=test-grafana-password
    echo MQTT_PASSWORD=test-mqtt-password
    echo FORWARD_HTTP_TOKEN=test-forward-token
    echo "INFLUXDB_PORT=$INFLUX_PORT"
    printf '%s\n' "$@"
  } | $CHECK set-env .env
}
# Grafana is left out (no image can be built here); the rest is the documented demo .env.
edit_env_demo() { common_env COMPOSE_PROFILES=demo,influxdb DATA_DIR=./demo-data; }
edit_env_meter() { common_env COMPOSE_PROFILES=meter,influxdb DATA_DIR=./data; }

inspect_env() { docker inspect $(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"); }

# --------------------------------------------------------------------------- run

build_compose
start_dockerd
docker compose version >/dev/null || fail "docker compose does not run"
build_base amd64
build_stand_ins
log "setup done in $(( $(date +%s) - START )) s"
URL=http://127.0.0.1:$INFLUX_PORT

# ---- 1: the quick start, as root
step "check 1" "quick start as root (docs/deploy.md, demo): up -d, every container healthy, CSV == InfluxDB"
W1=$WORK/root/smartmeter
clone "$W1"
cd "$W1"
export COMPOSE_FILE=docker-compose.yml:tests/compose/override.yml
[[ ! -e /dev/ttyUSB0 ]] || fail "this machine has a /dev/ttyUSB0: the 'no dongle' checks need a machine without one"
# No logger image yet, as on a fresh machine: `up` builds it from this tree (the layers of an
# unchanged tree come from the cache).
docker image rm --no-prune smartmeter-logger:local >/dev/null 2>&1 || true
T0=$(date +%s)
quick_start edit_env_demo
docker image inspect smartmeter-logger:local >/dev/null 2>&1 || fail "docker compose up -d did not build smartmeter-logger:local"
wait_ready 120 folders logger-demo telegraf influxdb
[[ $(stat -c %u demo-data) == 1000 && $(stat -c %u demo-state) == 1000 && $(stat -c %u telegraf-state) == 1000 ]] \
  || fail "the root-owned folders were not handed to uid 1000"
wait_rows demo-data 6 90
$CHECK page http://127.0.0.1:8000/ .env || fail "the demo's live page does not answer on http://127.0.0.1:8000/"
docker compose stop logger-demo >/dev/null 2>&1 || fail "docker compose stop logger-demo failed"
$CHECK equal .env demo-data "$URL" --timeout 60 || fail "CSV rows and InfluxDB points differ after the quick start"
log "quick start: healthy and equal in $(( $(date +%s) - T0 )) s"

# ---- 7: secrets, quick-start stack
step "check 7" "each container holds only the secrets it needs (docker inspect)"
docker compose start logger-demo >/dev/null 2>&1 || fail "docker compose start logger-demo failed"
inspect_env | $CHECK env-secrets .env || fail "a container holds a secret it does not need, or lacks one"

# ---- 4: faults
step "check 4" "faults: restart, InfluxDB down ${OUTAGE_S} s, down + up -d: nothing lost or doubled"
wait_ready 60 folders logger-demo telegraf influxdb
n=$($CHECK rows demo-data)
docker compose restart logger-demo >/dev/null 2>&1 || fail "docker compose restart logger-demo failed"
wait_ready 60 folders logger-demo telegraf influxdb
wait_rows demo-data $((n + 2)) 60
log "logger restarted, still recording"
docker compose stop influxdb >/dev/null 2>&1 || fail "docker compose stop influxdb failed"
n=$($CHECK rows demo-data)
sleep "$OUTAGE_S"
wait_rows demo-data $((n + 2)) 30
docker compose start influxdb >/dev/null 2>&1 || fail "docker compose start influxdb failed"
wait_ready 60 folders logger-demo telegraf influxdb
log "InfluxDB back after ${OUTAGE_S} s"
T_DOWN=$(date +%s)
docker compose down >"$CACHE/logs/last-command.log" 2>&1 || { cat "$CACHE/logs/last-command.log" >&2; fail "docker compose down failed"; }
# Telegraf's last flush must reach InfluxDB: Telegraf has exited before InfluxDB is stopped.
# --until takes whole seconds and leaves out the events of the second it names: one more second
# (docker events waits for it) so the last container's stop during this second is not cut off.
order=$(docker events --since "$T_DOWN" --until "$(( $(date +%s) + 1 ))" --filter type=container --filter event=die --filter event=kill \
          --format '{{.TimeNano}} {{.Action}} {{index .Actor.Attributes "com.docker.compose.service"}}' | sort -n)
tg_died=$(awk '$2 == "die" && $3 == "telegraf" {print $1; exit}' <<<"$order")
ix_killed=$(awk '$2 == "kill" && $3 == "influxdb" {print $1; exit}' <<<"$order")
[[ -n $tg_died && -n $ix_killed ]] || fail "docker events show no stop of telegraf and influxdb during down: $order"
((tg_died < ix_killed)) || fail "down stopped InfluxDB before Telegraf had exited (Telegraf's last flush can fail)"
log "down: Telegraf exited $(( (ix_killed - tg_died) / 1000000 )) ms before InfluxDB was stopped"

# ---- 5: down leaves nothing running (checked at this first `down` and again at the end)
step "check 5" "docker compose down leaves no container"
left=$(docker ps -a --format '{{.Names}} ({{.Status}})')
[[ -z $left ]] || fail "containers left after docker compose down: $left"
docker volume inspect smartmeter_influxdb-data smartmeter_influxdb-config >/dev/null 2>&1 \
  || fail "the InfluxDB volumes did not survive docker compose down"
$CHECK telegraf-offsets telegraf-state/telegraf.state demo-data || fail "Telegraf's offsets were not saved by down"
log "no container left; InfluxDB volumes and Telegraf offsets kept"

step "check 4" "(continued) up -d again: everything recorded before and after, once"
n=$($CHECK rows demo-data)
docker compose up -d >"$CACHE/logs/last-command.log" 2>&1 || { tail -20 "$CACHE/logs/last-command.log" >&2; fail "docker compose up -d (again) failed"; }
wait_ready 90 folders logger-demo telegraf influxdb
wait_rows demo-data $((n + 2)) 60
docker compose stop logger-demo >/dev/null 2>&1 || fail "docker compose stop logger-demo failed"
$CHECK no-duplicates demo-data || fail "a CSV row was written twice across the faults"
$CHECK equal .env demo-data "$URL" --timeout 90 || fail "CSV rows and InfluxDB points differ after the faults"
tg_log=$(docker logs smartmeter-telegraf-1 2>&1)
grep -q 'Strict environment variable handling is the new default' <<<"$tg_log" && fail "Telegraf still warns about strict environment handling"

# ---- 6: import with no dongle
step "check 6" "docker compose run --rm import (no dongle plugged in) re-sends every CSV row"
docker compose stop telegraf >/dev/null 2>&1 || fail "docker compose stop telegraf failed"
$CHECK influx-delete .env "$URL" || fail "could not empty the bucket"
[[ $($CHECK influx-count .env "$URL") == 0 ]] || fail "the bucket is not empty after the delete"
docker compose run --rm import >"$CACHE/logs/import.log" 2>&1 || { tail -20 "$CACHE/logs/import.log" >&2; fail "docker compose run --rm import failed"; }
$CHECK equal .env demo-data "$URL" --timeout 10 || fail "import did not re-send exactly the CSV rows"
docker compose down >"$CACHE/logs/last-command.log" 2>&1 || { cat "$CACHE/logs/last-command.log" >&2; fail "docker compose down failed"; }
left=$(docker ps -a --format '{{.Names}} ({{.Status}})')
[[ -z $left ]] || fail "[check 5] containers left after docker compose down: $left"
docker compose down -v >/dev/null 2>&1
cd "$REPO"

# ---- 2: meter service, as uid 1000
step "check 2" "meter service (the real logger definition) on the simulator, folders made by uid 1000"
W2=$WORK/user/smartmeter
clone "$W2"
chown -R 1000:1000 "$WORK/user"
cd "$W2"
T0=$(date +%s)
quick_start edit_env_meter 1000
wait_ready 120 folders dongle logger telegraf influxdb
for d in data state telegraf-state; do
  [[ $(stat -c %u:%g "$d") == 1000:1000 ]] || fail "$d: owned by $(stat -c %u:%g "$d"), expected to stay the user's (1000:1000)"
done
wait_rows data 6 90
setpriv --reuid 1000 --regid 1000 --clear-groups sh -c 'cat data/*.csv >/dev/null' \
  || fail "uid 1000 cannot read its own CSV files in data/"
inspect_env | $CHECK env-secrets .env logger=INFLUXDB_TOKEN || fail "[check 7] meter stack: a container holds a secret it does not need, or lacks one"
docker compose stop logger >/dev/null 2>&1 || fail "docker compose stop logger failed"
$CHECK equal .env data "$URL" --timeout 60 || fail "meter: CSV rows and InfluxDB points differ"
log "meter: healthy and equal in $(( $(date +%s) - T0 )) s"

# ---- 3: direct writes
step "check 3" "direct writes (INFLUXDB_ENABLED=true, no Telegraf): same rows in InfluxDB"
docker compose down -v >/dev/null 2>&1 || fail "docker compose down -v failed"
setpriv --reuid 1000 --regid 1000 --clear-groups sh -c 'rm -rf data/* state/* telegraf-state/*' || fail "could not empty the folders"
echo INFLUXDB_ENABLED=true | $CHECK set-env .env
T0=$(date +%s)
docker compose up -d --scale telegraf=0 >"$CACHE/logs/last-command.log" 2>&1 || { tail -20 "$CACHE/logs/last-command.log" >&2; fail "docker compose up -d --scale telegraf=0 failed"; }
wait_ready 120 folders dongle logger influxdb
wait_rows data 6 90
inspect_env | $CHECK env-secrets .env logger=INFLUXDB_TOKEN || fail "[check 7] direct mode: the logger lacks the token or holds more"
docker compose stop logger >/dev/null 2>&1 || fail "docker compose stop logger failed"
$CHECK equal .env data "$URL" --timeout 30 || fail "direct mode: CSV rows and InfluxDB points differ"
log "direct mode: equal in $(( $(date +%s) - T0 )) s"
docker compose down -v >/dev/null 2>&1 || fail "docker compose down -v failed"
left=$(docker ps -a --format '{{.Names}}')
[[ -z $left ]] || fail "[check 5] containers left after docker compose down: $left"
cd "$REPO"
