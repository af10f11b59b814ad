#!/usr/bin/env bash
# The ARM images, built and run for real under qemu user-mode emulation: the project's own
# Dockerfile for linux/arm64 (Raspberry Pi OS 64-bit) and linux/arm/v7 (Raspberry Pi OS 32-bit,
# whose Python has a 32-bit time_t). Exits non-zero with a "FAIL: [arm check N] ..." line naming
# the check on any failure.
#
#   sudo scripts/test-arm.sh          (root: registers qemu's binfmt handlers and runs its own
#                                      dockerd, the one scripts/test-compose.sh uses; called by
#                                      scripts/test.sh after it)
#
# What it sets up (cached outside the repository: the engine's data root and the base tars in
# $SMARTMETER_DEPS/compose, this script's logs, test dependencies and working copies in
# $SMARTMETER_DEPS/arm; default ~/.cache/smartmeter-deps; cold ~8 min, warm ~1.5-2 min):
#   - Debian's qemu-user-static and binfmt-support; binfmt_misc mounted and the qemu-aarch64 and
#     qemu-arm handlers enabled with the F (fix-binary) flag, so containers find the emulator
#     (a mount or handler this script made is undone on exit)
#   - the engine of scripts/lib/engine.sh (own dockerd, container egress blocked before any
#     container starts; one user of it at a time: flock)
#   - per architecture a debootstrap Debian bookworm minbase, loaded with that architecture in its
#     image config (docker import would record amd64), and on it the TEST STAND-IN
#     smartmeter-stand-in/python:3.11-slim-bookworm-<arch> (tests/compose/python/Dockerfile,
#     labelled "test stand-in"): Debian's Python 3.11, NOT the official python image
#   - the logger image from this tree's Dockerfile, per architecture, with that stand-in passed as
#     --build-arg PYTHON_IMAGE (the classic builder does not check FROM's architecture, so a
#     re-tagged base would silently give an amd64 image): smartmeter-logger:test-arm64/-armv7
#   - pytest, pytest-xdist and hypothesis as pure-Python wheels (pip --target, from PyPI), mounted
#     read-only into the armv7 image for the unit tests (the image itself has no pytest)
#
# Checks, each logged as "== arm check N" and failing with "FAIL: [arm check N] ...":
#   1  qemu's handlers are registered and enabled with the F flag
#   2  each image really is its architecture: the bases, stand-ins and logger images say
#      linux/arm64 or linux/arm in docker image inspect, `uname -m` inside says aarch64
#      / armv7l, Python is 64 / 32-bit; and the armv7 image's time_t is 32-bit (gmtime(2**31)
#      overflows there: the premise of logger/timeconv.py)
#   3  `run --simulate` in each image with docker-compose.yml's hardening for the logger
#      (read-only root, tmpfs /tmp, no capabilities, no-new-privileges, uid 1000 gid 20, no
#      network), its state folder holding a scan.json whose frontier is in 2040: loaded (the
#      host clock is no reference), then one line dropping the frontier once the meter told the
#      time, scan.json saved without it, E7 rows in the daily CSV, `docker stop` gives exit
#      code 0, and no "Traceback" anywhere in the log
#   4  the unit tests inside the armv7 image, against the package installed in the image
#      (PYTHONSAFEPATH: not the source tree), as uid 1000 on a read-only root: a documented
#      SUBSET (ARM_TESTS below, ~500 tests, ~40 s emulated; the whole suite would take far
#      longer under qemu): the time, state, schedule, backfill, CSV sink, spool, session-recovery,
#      restart, ECHONET and SKSTACK parser tests, a simulated logger run across 2038 included.
#      Everything that needs services, Docker, git, the network or a browser, and the slower
#      session fault tests, stay with the host's pytest run.
# Times measured here (2 shared cores, emulated): cold ~8 min (debootstrap, stand-ins, pip under
# qemu), warm with a source change ~1.8 min (both logger images rebuild their last layers), warm
# unchanged ~1.4 min. Emulated CPU and memory figures say nothing about a real Raspberry Pi.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SCRIPT=test-arm
source scripts/lib/engine.sh
CACHE=$DEPS/arm
WORK=$CACHE/work
ARCHES=(arm64 armv7)
RUN_TIMEOUT=${ARM_RUN_TIMEOUT:-300}
# Test dependencies for the armv7 image, pure-Python wheels only (pyproject's dev extra): hypothesis
# 6.155.7 is its last release published as a pure-Python wheel (later ones are platform wheels).
TEST_DEPS=("pytest==9.2.0" "pytest-xdist==3.8.0" "hypothesis==6.155.7")
# The unit tests run inside the armv7 image (check 4): pure tests, no services, Docker, git,
# network or browser; the time/state/schedule/backfill/CSV/spool/session ones always.
ARM_TESTS=(
  tests/test_timeconv.py tests/test_state_sanity.py tests/test_schedule_alignment.py
  tests/test_sinks_csv.py tests/test_sinks_spool_points.py tests/test_session_recovery.py
  tests/test_echonet_meter.py tests/test_echonet_frame.py
  tests/test_skstack_parser.py tests/test_runner_restart.py
)

[[ $# -eq 0 ]] || { echo "test-arm.sh: takes no arguments (environment: ARM_RUN_TIMEOUT=seconds, SMARTMETER_DEPS=cache dir)" >&2; exit 2; }
[[ $RUN_TIMEOUT =~ ^[0-9]+$ && $RUN_TIMEOUT -ge 30 ]] || { echo "test-arm.sh: ARM_RUN_TIMEOUT='$RUN_TIMEOUT' is not a number of seconds (>= 30)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "test-arm.sh: must run as root (binfmt handlers, its own dockerd and firewall rule): sudo scripts/test-arm.sh" >&2; exit 2; }
command -v python3 >/dev/null || { echo "test-arm.sh: python3 is not installed" >&2; exit 2; }
START=$(date +%s)
mkdir -p "$CACHE/logs" "$RUNDIR"
engine_lock

# --------------------------------------------------------------------------- cleanup (trap)

BINFMT_MOUNTED="" BINFMT_ENABLED=()
cleanup() {
  local rc=$?
  set +e
  engine_cleanup "$rc"
  local h
  for h in "${BINFMT_ENABLED[@]}"; do update-binfmts --disable "$h" >/dev/null 2>&1; done
  [[ -n $BINFMT_MOUNTED ]] && umount /proc/sys/fs/binfmt_misc 2>/dev/null
  if ((rc == 0)); then rm -rf "$WORK"; else log "the working copies are kept for a look: $WORK"; fi
  if ((rc == 0)); then log "all checks passed in $(( $(date +%s) - START )) s"; else log "FAILED (exit $rc) after $(( $(date +%s) - START )) s"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_apt docker.io debootstrap iptables util-linux qemu-user-static binfmt-support
engine_client

# --------------------------------------------------------------------------- 1: qemu

step "arm check 1" "qemu user-mode emulation registered (binfmt_misc, F flag)"
if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || fail "cannot mount binfmt_misc"
  BINFMT_MOUNTED=yes
fi
for h in qemu-aarch64 qemu-arm; do
  if ! grep -qx enabled "/proc/sys/fs/binfmt_misc/$h" 2>/dev/null; then
    update-binfmts --enable "$h" >"$CACHE/logs/binfmt.log" 2>&1 || fail "update-binfmts --enable $h failed (see $CACHE/logs/binfmt.log)"
    BINFMT_ENABLED+=("$h")
  fi
  grep -qx enabled "/proc/sys/fs/binfmt_misc/$h" || fail "$h is not enabled in binfmt_misc"
  grep -q '^flags: .*F' "/proc/sys/fs/binfmt_misc/$h" \
    || fail "$h has no F (fix-binary) flag: containers cannot find the emulator ($(grep flags "/proc/sys/fs/binfmt_misc/$h"))"
done
log "qemu-aarch64 and qemu-arm enabled with the F flag"

# --------------------------------------------------------------------------- images

start_dockerd
setup_done=$(date +%s)
CURRENT="setup: images"

# test_deps: the pure-Python test dependencies for the armv7 image, once (a stamp of the pins).
TESTDEPS=$CACHE/testdeps
test_deps() {
  local want
  want=$(printf '%s\n' "${TEST_DEPS[@]}")
  [[ -f $TESTDEPS/.pins && $(cat "$TESTDEPS/.pins") == "$want" ]] && return 0
  log "installing the test dependencies (pure-Python wheels) into $TESTDEPS"
  rm -rf "$TESTDEPS.tmp"
  python3 -m pip install -q --disable-pip-version-check --no-compile --target "$TESTDEPS.tmp" --only-binary=:all: \
      --platform any --python-version 3.11 --implementation py --abi none "${TEST_DEPS[@]}" >"$CACHE/logs/testdeps.log" 2>&1 \
    || { grep -m3 ERROR "$CACHE/logs/testdeps.log" | cut -c1-300 >&2; fail "pip could not fetch ${TEST_DEPS[*]} (see $CACHE/logs/testdeps.log)"; }
  echo "$want" >"$TESTDEPS.tmp/.pins"
  rm -rf "$TESTDEPS" && mv "$TESTDEPS.tmp" "$TESTDEPS"
}

python_image() { echo "smartmeter-stand-in/python:3.11-slim-bookworm-$1"; }
logger_image() { echo "smartmeter-logger:test-$1"; }

T0=$(date +%s)
extras=$(python_host_extras)
for arch in "${ARCHES[@]}"; do
  build_base "$arch"
  stand_in "$(python_image "$arch")" python "$(base_image "$arch")" $extras
  log "building the logger image for $arch from this tree's Dockerfile"
  b0=$(date +%s)
  # The build stage tagged too: untagged it would be a dangling image, removed by the prune below,
  # and the next run would pip-install every dependency again under emulation.
  { docker build --network host --build-arg "PYTHON_IMAGE=$(python_image "$arch")" --target build \
      -t "$(logger_image "$arch")-build-stage" "$REPO" \
    && docker build --network host --build-arg "PYTHON_IMAGE=$(python_image "$arch")" -t "$(logger_image "$arch")" "$REPO"; } \
    >"$CACHE/logs/build-logger-$arch.log" 2>&1 \
    || { tail -20 "$CACHE/logs/build-logger-$arch.log" >&2; fail "building the logger image for $arch failed (see $CACHE/logs/build-logger-$arch.log)"; }
  log "$arch: built in $(( $(date +%s) - b0 )) s, $(grep -c 'Using cache' "$CACHE/logs/build-logger-$arch.log") of $(grep -c '^Step ' "$CACHE/logs/build-logger-$arch.log") steps from the cache"
done
test_deps
docker image prune -f >/dev/null  # the previous build's layers, once replaced (not the tagged stages)
log "images ready in $(( $(date +%s) - T0 )) s (setup $(( setup_done - START )) s)"

# --------------------------------------------------------------------------- 2: architecture

step "arm check 2" "each image really is its architecture"
for arch in "${ARCHES[@]}"; do
  read -r _deb dk variant uname_m _suffix <<<"$(arch_facts "$arch")"
  bits=$([[ $arch == arm64 ]] && echo 64 || echo 32)
  for img in "$(base_image "$arch")" "$(python_image "$arch")" "$(logger_image "$arch")"; do
    got=$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$img") || fail "no image $img"
    [[ $got == "linux/$dk" ]] || fail "$img is $got, not linux/$dk"
  done
  for img in "$(base_image "$arch")" "$(python_image "$arch")"; do
    docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.description"}}' "$img" | grep -q '^test stand-in' \
      || fail "$img is not labelled as a test stand-in"
  done
  inside=$(docker run --rm --network none --entrypoint /bin/sh "$(logger_image "$arch")" -c \
             'uname -m; python -c "import struct; print(struct.calcsize(\"P\") * 8)"') || fail "$(logger_image "$arch") does not run"
  [[ $inside == "$uname_m"$'\n'"$bits" ]] || fail "$(logger_image "$arch"): uname -m / Python bits are '${inside//$'\n'/ }', expected '$uname_m $bits'"
  log "$(logger_image "$arch"): linux/$dk ($variant), uname -m $uname_m, $bits-bit Python"
done
time_t=$(docker run --rm --network none --entrypoint python "$(logger_image armv7)" -c \
           'import time
try:
    time.gmtime(2**31); print(64)
except OverflowError:
    print(32)') || fail "python does not run in the armv7 image"
[[ $time_t == 32 ]] || fail "the armv7 image's time_t is $time_t-bit: the 32-bit checks below would prove nothing"
log "armv7: time_t is 32-bit (time.gmtime(2**31) overflows), as on Raspberry Pi OS 32-bit"

# --------------------------------------------------------------------------- 3: hardened run

step "arm check 3" "run --simulate in each image, compose's hardening, a post-2038 state: a line, CSV rows, exit 0"
# The frontier of the cached scan: 2040-06-01 12:00 Tokyo.
POST_2038=2222132400
rm -rf "$WORK" && mkdir -p "$WORK"
for arch in "${ARCHES[@]}"; do
  w=$WORK/run-$arch
  mkdir -p "$w/data" "$w/state"
  printf '{"version": 1, "scan": null, "last_slot": %s.0, "recorded": [], "session_held": false}\n' "$POST_2038" >"$w/state/scan.json"
  chown -R 1000:20 "$w/data" "$w/state"
  # docker-compose.yml's logger-demo: read_only, tmpfs /tmp, cap_drop ALL, no-new-privileges,
  # the image's user 1000:20, its environment and volumes (config read-only); no network here.
  docker run -d --name "smartmeter-arm-$arch" --read-only --tmpfs /tmp --cap-drop ALL \
    --security-opt no-new-privileges:true --user 1000:20 --network none \
    -e CSV_DIR=/data -e STATE_DIR=/state -e SERIAL_PORT= -e INFLUXDB_ENABLED=false \
    -v "$REPO/config:/config:ro" -v "$w/data:/data" -v "$w/state:/state" \
    "$(logger_image "$arch")" run --simulate --config /config/settings.yml >/dev/null \
    || fail "docker run of $(logger_image "$arch") failed"
done
T0=$(date +%s)
e7_rows() { cat "$1"/*.csv 2>/dev/null | awk -F, '$3 == "E7"' | wc -l; }
for arch in "${ARCHES[@]}"; do
  w=$WORK/run-$arch
  until (( $(e7_rows "$w/data") >= 2 )); do
    [[ $(docker inspect -f '{{.State.Running}}' "smartmeter-arm-$arch") == true ]] \
      || fail "$arch: the logger stopped before recording (exit $(docker inspect -f '{{.State.ExitCode}}' "smartmeter-arm-$arch"))"
    (( $(date +%s) - T0 < RUN_TIMEOUT )) || fail "$arch: no E7 rows in the daily CSV after $RUN_TIMEOUT s"
    sleep 2
  done
  log "$arch: E7 rows in the CSV after $(( $(date +%s) - T0 )) s"
done
for arch in "${ARCHES[@]}"; do
  w=$WORK/run-$arch
  docker stop -t 30 "smartmeter-arm-$arch" >/dev/null || fail "$arch: docker stop failed"
  docker logs "smartmeter-arm-$arch" >"$CACHE/logs/run-$arch.log" 2>&1
  code=$(docker inspect -f '{{.State.ExitCode}}' "smartmeter-arm-$arch")
  [[ $code == 0 ]] || fail "$arch: exit code $code after docker stop, expected 0 (log: $CACHE/logs/run-$arch.log)"
  ! grep -q 'Traceback' "$CACHE/logs/run-$arch.log" || fail "$arch: a Traceback in the log ($CACHE/logs/run-$arch.log)"
  ! grep -q 'makes no sense' "$CACHE/logs/run-$arch.log" || fail "$arch: the post-2038 scan.json was refused at load (the host clock is no reference; log: $CACHE/logs/run-$arch.log)"
  n=$(grep -c "the saved state (scan.json) records half-hours up to 2040-06-01T12:00:00+09:00, after the current time .* written under a wrong clock" "$CACHE/logs/run-$arch.log" || true)
  [[ $n == 1 ]] || fail "$arch: expected one line dropping the post-2038 frontier once the meter told the time, found $n (log: $CACHE/logs/run-$arch.log)"
  ! grep -q "\"last_slot\": $POST_2038" "$w/state/scan.json" || fail "$arch: state/scan.json still holds the post-2038 frontier"
  docker rm "smartmeter-arm-$arch" >/dev/null
  log "$arch: one line dropping the post-2038 frontier, CSV rows, stopped with exit 0, no traceback"
done

# --------------------------------------------------------------------------- 4: unit tests (armv7)

step "arm check 4" "unit tests inside the armv7 image (${#ARM_TESTS[@]} files, the installed package)"
src=$WORK/src
mkdir -p "$src"
cp -a "$REPO/tests" "$REPO/logger" "$REPO/config" "$REPO/pyproject.toml" "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} + ; rm -rf "$src/.hypothesis" "$src/.pytest_cache"
chown -R 1000:20 "$src"
T0=$(date +%s)
set +e
docker run --rm --name smartmeter-arm-tests --read-only --tmpfs /tmp --cap-drop ALL \
  --security-opt no-new-privileges:true --user 1000:20 --network none \
  -v "$TESTDEPS:/testdeps:ro" -v "$src:/src" -w /src -e PYTHONPATH=/testdeps -e PYTHONSAFEPATH=1 -e HOME=/tmp \
  --entrypoint python "$(logger_image armv7)" -P -c \
  'import sys, logger, pytest
print("logger from", logger.__file__, flush=True)
assert logger.__file__.startswith("/opt/venv/"), "not the installed package"
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-n", "2", *sys.argv[1:]]))' "${ARM_TESTS[@]}" \
  >"$CACHE/logs/unit-armv7.log" 2>&1
rc=$?
set -e
tail -3 "$CACHE/logs/unit-armv7.log" | sed 's/^/    /' >&2
((rc == 0)) || { tail -40 "$CACHE/logs/unit-armv7.log" >&2; fail "unit tests failed in the armv7 image (exit $rc; log: $CACHE/logs/unit-armv7.log)"; }
grep -q 'logger from /opt/venv/' "$CACHE/logs/unit-armv7.log" || fail "the tests did not run against the image's package"
log "armv7 unit tests passed in $(( $(date +%s) - T0 )) s"
