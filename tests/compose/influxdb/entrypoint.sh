#!/bin/bash
# Test stand-in for the official influxdb:2.7 entrypoint. On an empty volume with
# DOCKER_INFLUXDB_INIT_MODE=setup it creates the user, org, bucket (infinite retention:
# DOCKER_INFLUXDB_INIT_RETENTION, unused here, is refused) and operator token from
# DOCKER_INFLUXDB_INIT_*: influxd is
# started on 127.0.0.1:9999 (no client can reach it yet), POST /api/v2/setup (JSON built by jq
# from the environment, sent on stdin: no secret in any process argument), then stopped; then
# the command runs. `-flags` mean `influxd -flags`, as in the official image.
set -euo pipefail
log() { echo "entrypoint (stand-in): $*" >&2; }
case "${1:-}" in -*) set -- influxd "$@" ;; esac
if [[ "${1:-}" == influxd && ! -s "$INFLUXD_BOLT_PATH" && "${DOCKER_INFLUXDB_INIT_MODE:-}" == setup ]]; then
  [[ -z "${DOCKER_INFLUXDB_INIT_RETENTION:-}" ]] || { log "error: DOCKER_INFLUXDB_INIT_RETENTION is not supported by this stand-in"; exit 1; }
  for v in USERNAME PASSWORD ORG BUCKET; do
    var=DOCKER_INFLUXDB_INIT_$v
    [[ -n "${!var:-}" ]] || { log "error: $var is not set (set it in .env)"; exit 1; }
  done
  log "initial setup of an empty volume"
  influxd --http-bind-address 127.0.0.1:9999 --reporting-disabled >/tmp/influxd-setup.log 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    curl -sf -o /dev/null http://127.0.0.1:9999/health && break
    kill -0 "$pid" 2>/dev/null || { log "error: influxd stopped during setup"; tail -5 /tmp/influxd-setup.log >&2; exit 1; }
    sleep 0.2
  done
  jq -n '{username: env.DOCKER_INFLUXDB_INIT_USERNAME, password: env.DOCKER_INFLUXDB_INIT_PASSWORD,
          org: env.DOCKER_INFLUXDB_INIT_ORG, bucket: env.DOCKER_INFLUXDB_INIT_BUCKET}
         + (if (env.DOCKER_INFLUXDB_INIT_ADMIN_TOKEN // "") != "" then {token: env.DOCKER_INFLUXDB_INIT_ADMIN_TOKEN} else {} end)
         ' \
    | curl -sS --fail-with-body -o /tmp/setup.out -X POST -H 'Content-Type: application/json' \
        --data-binary @- http://127.0.0.1:9999/api/v2/setup \
    || { log "error: /api/v2/setup failed: $(jq -r .message /tmp/setup.out 2>/dev/null)"; exit 1; }
  rm -f /tmp/setup.out
  kill "$pid"; wait "$pid" || true
  log "setup done (org ${DOCKER_INFLUXDB_INIT_ORG}, bucket ${DOCKER_INFLUXDB_INIT_BUCKET})"
fi
exec "$@"
