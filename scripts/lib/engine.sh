# shellcheck shell=bash
# The tests' own Docker engine, shared by scripts/test-compose.sh and scripts/test-arm.sh (sourced,
# never run). One engine at a time: its socket, data root and firewall rule are the same for both,
# so each script holds $DEPS/.engine.lock (flock) from engine_lock until it exits.
#
# The sourcing script sets first:  SCRIPT (name for log lines), REPO (the repository), CACHE (its
# own cache folder: logs/, ctx/ ...). This file sets DEPS, ENGINE_CACHE, RUNDIR, BASE_IMAGE and
# gives:
#   log / step / fail          "HH:MM:SS <script>: ..." lines; fail prints "FAIL: [<step>] ..." and exits 1
#   need_apt PKG...            Debian packages, installed when missing (log: $CACHE/logs/apt.log)
#   engine_lock                wait for any other user of the engine, then hold it
#   engine_client              Debian's docker client on our socket (DOCKER_HOST, DOCKER_CONFIG); nothing
#                              in ~/.docker is touched; the classic builder (20.10 has no buildx)
#   start_dockerd              its own dockerd (own socket, data and exec dirs, pid file), container
#                              egress by the default route dropped (DOCKER-USER, checked with -C)
#                              before any container starts
#   engine_cleanup RC          for the EXIT trap: containers' last lines on failure, containers,
#                              volumes and networks removed, dockerd stopped, its mounts and the
#                              firewall chains it made undone
#   build_base ARCH            a debootstrap Debian bookworm minbase (amd64, arm64, armv7) as a local
#                              image of that architecture, named $(base_image ARCH)
#   stand_in NAME DIR BASE [FILE...]   tests/compose/DIR/Dockerfile built on BASE as NAME (cached)
#   python_host_extras         the host's extra CA certificates and pip.conf for a python stand-in
#   stamp / image_stamp        what an image is made of / the stamp an image carries
# Cache: $DEPS/compose (ENGINE_CACHE): docker-data/, the base tars, bin/, docker-config/, logs/dockerd.log.

DEPS=${SMARTMETER_DEPS:-$HOME/.cache/smartmeter-deps}
ENGINE_CACHE=$DEPS/compose
RUNDIR=/run/smartmeter-compose-test
BASE_IMAGE=smartmeter-stand-in/debian:bookworm-minbase

log() { printf '%s %s: %s\n' "$(date -u +%H:%M:%S)" "$SCRIPT" "$*" >&2; }
CURRENT="setup"
fail() {
  log "FAIL: [$CURRENT] $*"
  exit 1
}
step() {
  CURRENT=$1
  log "== $*"
}

need_apt() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$CACHE/logs/apt.log" 2>&1 \
      || fail "apt-get install ${missing[*]} failed (see $CACHE/logs/apt.log)"
  fi
}

engine_lock() {
  mkdir -p "$DEPS"
  local lock=$DEPS/.engine.lock
  exec 8>>"$lock"
  if ! flock -n 8; then
    log "another test script (pid $(cat "$lock.pid" 2>/dev/null || echo '?')) is using the test Docker engine; waiting for it (lock: $lock)"
    flock 8
  fi
  echo $$ >"$lock.pid"
}

engine_client() {
  mkdir -p "$ENGINE_CACHE/bin" "$ENGINE_CACHE/docker-config/cli-plugins" "$ENGINE_CACHE/logs" "$RUNDIR"
  ln -sf /usr/bin/docker "$ENGINE_CACHE/bin/docker"
  export PATH="$ENGINE_CACHE/bin:$PATH" DOCKER_CONFIG=$ENGINE_CACHE/docker-config DOCKER_HOST=unix://$RUNDIR/docker.sock
  export DOCKER_BUILDKIT=0
}

# --------------------------------------------------------------------------- engine

ADDED_RULE=()
DOCKER_CHAINS_BEFORE="" FORWARD_POLICY_BEFORE="" IP_FORWARD_BEFORE=""

engine_cleanup() {
  local rc=$1
  if [[ -S $RUNDIR/docker.sock ]] && docker info >/dev/null 2>&1; then
    if ((rc != 0)); then
      log "state at failure:"
      docker ps -a --format '  {{.Names}}: {{.Status}}' >&2
      for c in $(docker ps -aq); do
        log "last log lines of $(docker inspect -f '{{.Name}}' "$c"):"
        docker logs --tail 15 "$c" 2>&1 | sed 's/^/    /' >&2
      done
    fi
    local ids
    ids=$(docker ps -aq)
    [[ -n $ids ]] && docker rm -f $ids >/dev/null
    docker volume prune -f >/dev/null
    docker network prune -f >/dev/null
  fi
  stop_dockerd
  # dockerd leaves its default network namespace mounted under its exec root
  awk -v d="$RUNDIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r \
    | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
  grep -q " $RUNDIR/" /proc/mounts || rm -rf "$RUNDIR"
  if ((${#ADDED_RULE[@]})); then
    iptables -D DOCKER-USER "${ADDED_RULE[@]}" 2>/dev/null
  fi
  # The chains dockerd created (it leaves them behind when it stops), if none existed before.
  if [[ -z $DOCKER_CHAINS_BEFORE && -n $FORWARD_POLICY_BEFORE ]]; then
    remove_docker_chains
    iptables -P FORWARD "$FORWARD_POLICY_BEFORE"
    echo "$IP_FORWARD_BEFORE" >/proc/sys/net/ipv4/ip_forward 2>/dev/null
  fi
  return 0
}

stop_dockerd() {
  local pid
  pid=$(cat "$RUNDIR/docker.pid" 2>/dev/null) || return 0
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { log "dockerd $pid did not stop in 30 s: killing it"; kill -9 "$pid"; }
  fi
  rm -f "$RUNDIR/docker.pid"
}

remove_docker_chains() {
  local table chain
  for table in filter nat; do
    # rules jumping to DOCKER* chains from the built-in chains
    iptables -t "$table" -S 2>/dev/null | grep -E '^-A (FORWARD|PREROUTING|OUTPUT|POSTROUTING|INPUT) .*-j DOCKER' \
      | while read -r _ rest; do eval "iptables -t $table -D $rest" 2>/dev/null; done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N DOCKER/ {print $2}'); do
      iptables -t "$table" -F "$chain" 2>/dev/null
    done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N DOCKER/ {print $2}'); do
      iptables -t "$table" -X "$chain" 2>/dev/null
    done
  done
}

start_dockerd() {
  stop_dockerd  # a dockerd of ours left by a killed run
  rm -f "$RUNDIR/docker.sock"
  iptables -S DOCKER-USER >/dev/null 2>&1 && DOCKER_CHAINS_BEFORE=yes
  FORWARD_POLICY_BEFORE=$(iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" {print $3}')
  IP_FORWARD_BEFORE=$(cat /proc/sys/net/ipv4/ip_forward)
  mkdir -p "$ENGINE_CACHE/docker-data" "$RUNDIR/exec"
  dockerd --data-root "$ENGINE_CACHE/docker-data" --exec-root "$RUNDIR/exec" -H "unix://$RUNDIR/docker.sock" \
    --pidfile "$RUNDIR/docker.pid" --bridge none --log-level warn >"$ENGINE_CACHE/logs/dockerd.log" 2>&1 &
  for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || fail "dockerd did not start in 60 s (see $ENGINE_CACHE/logs/dockerd.log)"
  # No container may reach anything outside this machine: drop what leaves by the default route.
  local ext
  ext=$(ip route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
  [[ -n $ext ]] || fail "no default route: cannot tell the external interface to block"
  # dockerd (with --bridge none) makes DOCKER-USER with the first network: make one now.
  docker network create smartmeter-test-egress-probe >/dev/null || fail "docker network create failed"
  docker network rm smartmeter-test-egress-probe >/dev/null
  iptables -S DOCKER-USER >/dev/null 2>&1 || fail "dockerd made no DOCKER-USER chain: cannot block container egress"
  ADDED_RULE=(-o "$ext" -j DROP)
  iptables -I DOCKER-USER "${ADDED_RULE[@]}"
  iptables -C DOCKER-USER "${ADDED_RULE[@]}" || fail "the egress DROP rule is not in DOCKER-USER"
  log "dockerd $(docker version -f '{{.Server.Version}}') up (pid $(cat "$RUNDIR/docker.pid")); egress by $ext blocked"
}

# --------------------------------------------------------------------------- images

# A stamp of everything an image is made of: rebuilt only when it changes.
stamp() { cat "$@" | sha256sum | cut -c1-16; }
image_stamp() { docker image inspect -f '{{index .Config.Labels "smartmeter.test.stamp"}}' "$1" 2>/dev/null || true; }

# arch_facts ARCH: "<debian arch> <docker arch> <docker variant or -> <uname -m> <image suffix>"
arch_facts() {
  case "$1" in
    amd64) echo "amd64 amd64 - x86_64 " ;;
    arm64) echo "arm64 arm64 v8 aarch64 -arm64" ;;
    armv7) echo "armhf arm v7 armv7l -armv7" ;;
    *) fail "unknown architecture '$1' (amd64, arm64, armv7)" ;;
  esac
}

base_image() { local f; f=($(arch_facts "$1")); echo "$BASE_IMAGE${f[4]:-}"; }

# build_base ARCH: debootstrap Debian bookworm minbase for ARCH (a foreign one needs qemu's binfmt
# handlers registered first), loaded as $(base_image ARCH) with ARCH in its image config.
build_base() {
  local deb dk variant _uname suffix
  read -r deb dk variant _uname suffix <<<"$(arch_facts "$1")"
  local name=$BASE_IMAGE$suffix tar=$ENGINE_CACHE/debian-bookworm-minbase$suffix.tar
  if [[ ! -s $tar ]]; then
    log "debootstrap: Debian bookworm minbase for $deb (first time: 1-2 min)"
    local root=$ENGINE_CACHE/rootfs$suffix.tmp
    rm -rf "$root"
    debootstrap --arch="$deb" --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$CACHE/logs/debootstrap$suffix.log" 2>&1 \
      || fail "debootstrap --arch=$deb failed (see $CACHE/logs/debootstrap$suffix.log)"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
    tar -C "$root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$root"
  fi
  local s
  s=$(stat -c %s-%Y "$tar")
  if [[ $(image_stamp "$name") != "$s" ]]; then
    log "loading the Debian base ($deb) as $name"
    [[ $variant == - ]] && variant=""
    python3 "$REPO/scripts/lib/rootfs_image.py" "$tar" "$ENGINE_CACHE/load$suffix.tar" "$name" "$dk" $variant \
      --label "smartmeter.test.stamp=$s" \
      --label "org.opencontainers.image.description=test stand-in base: debootstrap Debian bookworm minbase ($deb)" \
      && docker load -q -i "$ENGINE_CACHE/load$suffix.tar" >/dev/null \
      || { rm -f "$ENGINE_CACHE/load$suffix.tar"; fail "loading the Debian base $name failed"; }
    rm -f "$ENGINE_CACHE/load$suffix.tar"
  fi
  [[ $(docker image inspect -f '{{.Architecture}}' "$name") == "$dk" ]] || fail "$name is not a $dk image"
}

# stand_in NAME DIR BASE [FILE...]: build tests/compose/DIR/Dockerfile on BASE as NAME, with FILEs in the context
stand_in() {
  local name=$1 dir=$2 base=$3; shift 3
  local key=${name//[\/:]/_}
  local ctx=$CACHE/ctx/$key s
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -a "$REPO/tests/compose/$dir/." "$ctx/"
  local f
  for f in "$@"; do cp -a "$f" "$ctx/"; done
  s=$(cd "$ctx" && find . -type f | sort | xargs cat | cat - <(echo "$base $(docker image inspect -f '{{.Id}}' "$base")") | sha256sum | cut -c1-16)
  if [[ $(image_stamp "$name") == "$s" ]]; then return 0; fi
  log "building stand-in $name"
  docker build --network host -q --build-arg "BASE=$base" --label "smartmeter.test.stamp=$s" -t "$name" "$ctx" \
    >"$CACHE/logs/build-$key.log" 2>&1 || { tail -20 "$CACHE/logs/build-$key.log" >&2; fail "building the stand-in $name failed (see $CACHE/logs/build-$key.log)"; }
}

# The host's extra CA certificates and pip.conf, when it has them (a TLS-re-signing proxy): pip
# inside a build needs them. A user's machine has neither; the project's Dockerfile does not
# change. Prints the two paths to hand to stand_in for tests/compose/python.
python_host_extras() {
  local extra=$CACHE/ctx/python-host
  rm -rf "$extra" && mkdir -p "$extra/host-ca"
  cp /usr/local/share/ca-certificates/*.crt "$extra/host-ca/" 2>/dev/null || true
  if [[ -f /etc/pip.conf ]]; then cp /etc/pip.conf "$extra/pip.conf"; else : >"$extra/pip.conf"; fi
  echo "$extra/host-ca $extra/pip.conf"
}
