#!/usr/bin/env bash
# Build the real Telegraf and InfluxDB v2 (influxd, with Flux) used by the integration tests.
#
# Binaries go to a cache outside the repository ($SMARTMETER_DEPS, default
# ~/.cache/smartmeter-deps). A build is skipped when the cached binary reports the
# pinned version. Progress is logged to $SMARTMETER_DEPS/logs/.
#
#   scripts/test-services.sh            build both (skips what is cached)
#   scripts/test-services.sh telegraf   build one
#   scripts/test-services.sh --print    print the paths of the binaries (KEY=path)
#
# The reason for each build step is in the comment beside it. One build at a time per cache: a
# second run (another checkout's tests on the same machine) waits for the first and says so.
set -euo pipefail

TG_VER=${TELEGRAF_VERSION:-v1.39.3}
IV=${INFLUXD_VERSION:-v2.7.12}
PKGCONFIG_VER=${INFLUX_PKGCONFIG_VERSION:-v0.2.14}
DEPS=${SMARTMETER_DEPS:-$HOME/.cache/smartmeter-deps}
TG_BIN="$DEPS/telegraf-$TG_VER/bin/telegraf"
INFLUXD_BIN="$DEPS/influxd-$IV/bin/influxd"
TG_TAGS="custom,inputs.tail,inputs.file,inputs.influxdb_v2_listener,parsers.csv,parsers.influx,outputs.influxdb_v2,outputs.file,outputs.http,outputs.mqtt,serializers.influx,serializers.json,processors.converter,outputs.prometheus_client"

log() { printf '%s test-services: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if [[ "${1:-}" == "--print" ]]; then
  echo "TELEGRAF_BIN=$TG_BIN"
  echo "INFLUXD_BIN=$INFLUXD_BIN"
  exit 0
fi

mkdir -p "$DEPS/logs" "$DEPS/tools"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

# The lock is held until this script exits (fd 9 stays open); the holder's pid is beside it.
LOCK="$DEPS/.build.lock"
exec 9>>"$LOCK"
if ! flock -n 9; then
  log "another test-services.sh (pid $(cat "$LOCK.pid" 2>/dev/null || echo '?')) is building into $DEPS; waiting for it (lock: $LOCK)"
  flock 9
  log "the other build finished; checking the cache"
fi
echo $$ >"$LOCK.pid"

need_apt() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

build_telegraf() {
  if [[ -x "$TG_BIN" ]] && "$TG_BIN" --version 2>/dev/null | grep -q "${TG_VER#v}" \
     && [[ "$(cat "$DEPS/telegraf-$TG_VER/tags" 2>/dev/null)" == "$TG_TAGS" ]]; then
    log "telegraf $TG_VER cached at $TG_BIN"; return 0
  fi
  log "building telegraf $TG_VER (first build: a few minutes)"
  mkdir -p "$DEPS/telegraf-$TG_VER/bin"
  CGO_ENABLED=0 GOBIN="$DEPS/telegraf-$TG_VER/bin" go install -trimpath -tags "$TG_TAGS" \
    -ldflags "-s -w -X github.com/influxdata/telegraf/internal.Version=${TG_VER#v}" \
    "github.com/influxdata/telegraf/cmd/telegraf@$TG_VER" >"$DEPS/logs/telegraf-build.log" 2>&1 \
    || { log "telegraf build failed (go install github.com/influxdata/telegraf/cmd/telegraf@$TG_VER); see $DEPS/logs/telegraf-build.log"; tail -20 "$DEPS/logs/telegraf-build.log" >&2; return 1; }
  echo "$TG_TAGS" >"$DEPS/telegraf-$TG_VER/tags"
  log "telegraf ready: $("$TG_BIN" --version)"
}

build_influxd() {
  if [[ -x "$INFLUXD_BIN" ]] && "$INFLUXD_BIN" version 2>/dev/null | grep -q "$IV"; then
    log "influxd $IV cached at $INFLUXD_BIN"; return 0
  fi
  need_apt pkg-config gcc
  log "building influxd $IV with Flux (first build: 25-40 minutes; log: $DEPS/logs/influxd-build.log)"
  export CGO_ENABLED=1
  RUSTUP_TOOLCHAIN="$(cd / && rustup show active-toolchain | awk '{print $1}')"
  export RUSTUP_TOOLCHAIN
  unset CARGO_TARGET_DIR
  export PKG_CONFIG_LOG="$DEPS/logs/pkg-config.log"
  if [[ ! -x "$DEPS/tools/pkg-config" ]]; then
    GOBIN="$DEPS/tools" go install "github.com/influxdata/pkg-config@$PKGCONFIG_VER" >"$DEPS/logs/pkg-config-build.log" 2>&1 \
      || { log "pkg-config wrapper build failed (go install github.com/influxdata/pkg-config@$PKGCONFIG_VER); see $DEPS/logs/pkg-config-build.log"; tail -20 "$DEPS/logs/pkg-config-build.log" >&2; return 1; }
  fi
  export PKG_CONFIG="$DEPS/tools/pkg-config"
  cat >"$DEPS/tools/rustc-caplints" <<'WRAP'
#!/bin/sh
# RUSTC_WRAPPER: cap lints so flux's deny(warnings) does not break on a newer rustc.
case " $* " in *" --cap-lints "*|*" --cap-lints="*) exec "$@";; esac
exec "$@" --cap-lints warn
WRAP
  chmod +x "$DEPS/tools/rustc-caplints"
  export RUSTC_WRAPPER="$DEPS/tools/rustc-caplints"
  export CARGO_PROFILE_RELEASE_LTO=false
  local w="$DEPS/src/influxd-wrap-$IV"
  mkdir -p "$w" "$DEPS/influxd-$IV/bin"
  (
    cd "$w"
    [[ -f go.mod ]] || printf 'module local/influxdwrap\n\ngo 1.23.0\n' >go.mod
    go get "github.com/influxdata/influxdb/v2/cmd/influxd@$IV" >>"$DEPS/logs/influxd-build.log" 2>&1
    go build -tags sqlite_foreign_keys,sqlite_json \
      -ldflags "-s -w -X main.version=$IV -X main.commit=modproxy" \
      -o "$INFLUXD_BIN.tmp" github.com/influxdata/influxdb/v2/cmd/influxd >>"$DEPS/logs/influxd-build.log" 2>&1
  ) || { log "influxd build failed (go get/go build github.com/influxdata/influxdb/v2/cmd/influxd@$IV); see $DEPS/logs/influxd-build.log and $PKG_CONFIG_LOG"; tail -30 "$DEPS/logs/influxd-build.log" >&2; return 1; }
  mv "$INFLUXD_BIN.tmp" "$INFLUXD_BIN"
  log "influxd ready: $("$INFLUXD_BIN" version)"
}

case "${1:-all}" in
  telegraf) build_telegraf ;;
  influxd) build_influxd ;;
  all) build_telegraf && build_influxd ;;
  *) echo "usage: $0 [all|telegraf|influxd|--print]" >&2; exit 2 ;;
esac
