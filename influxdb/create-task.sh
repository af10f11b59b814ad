#!/usr/bin/env bash
# Create (or update) the InfluxDB task influxdb/tasks/smartmeter_10m.flux and its bucket through
# the HTTP API (no influx CLI needed): curl for HTTP, python3 for JSON.
#
#   INFLUXDB_URL=http://localhost:8086 INFLUXDB_TOKEN=... INFLUXDB_ORG=home \
#   INFLUXDB_BUCKET=smartmeter influxdb/create-task.sh
#
# The variables are read from the environment, else from ./.env (the stack's .env):
#   INFLUXDB_URL, INFLUXDB_TOKEN, INFLUXDB_ORG   where and as whom (the token needs write access
#                                                 to buckets and tasks: the operator/all-access token)
#   INFLUXDB_BUCKET      the logger's bucket (the task reads it)
#   DOWNSAMPLE_BUCKET    the bucket written (default smartmeter_10m; created if missing)
#   DOWNSAMPLE_RETENTION retention of that bucket in seconds (default 0 = forever)
#   TASK_FILE            the Flux file (default: tasks/smartmeter_10m.flux next to this script)
# Running it again updates the task (same name) instead of adding a second one.
# Prints the bucket and the task ID; the token is never printed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [[ -f .env ]]; then
  while IFS='=' read -r key value; do
    [[ "$key" =~ ^(INFLUXDB_URL|INFLUXDB_TOKEN|INFLUXDB_ORG|INFLUXDB_BUCKET|DOWNSAMPLE_BUCKET|DOWNSAMPLE_RETENTION)$ ]] || continue
    [[ -n "${!key:-}" ]] && continue   # the real environment wins
    value=${value%\"}; value=${value#\"}; value=${value%\'}; value=${value#\'}
    export "$key=$value"
  done < .env
fi
: "${INFLUXDB_URL:?set INFLUXDB_URL (e.g. http://localhost:8086)}"
: "${INFLUXDB_TOKEN:?set INFLUXDB_TOKEN (an all-access/operator token)}"
: "${INFLUXDB_ORG:?set INFLUXDB_ORG}"
: "${INFLUXDB_BUCKET:?set INFLUXDB_BUCKET (the bucket the logger writes)}"
DOWNSAMPLE_BUCKET=${DOWNSAMPLE_BUCKET:-smartmeter_10m}
DOWNSAMPLE_RETENTION=${DOWNSAMPLE_RETENTION:-0}
TASK_FILE=${TASK_FILE:-$here/tasks/smartmeter_10m.flux}
command -v curl >/dev/null || { echo "create-task: curl is needed (apt-get install -y curl)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "create-task: python3 is needed" >&2; exit 1; }
[[ -r "$TASK_FILE" ]] || { echo "create-task: cannot read $TASK_FILE" >&2; exit 1; }

# The token goes to curl in a private header file, never on a command line (ps) or in output.
headers=$(mktemp)
trap 'rm -f "$headers"' EXIT
chmod 600 "$headers"
printf 'Authorization: Token %s\nContent-Type: application/json\n' "$INFLUXDB_TOKEN" >"$headers"

api() {  # api METHOD PATH [JSON-BODY] -> response body on stdout; fails with the API's message
  # (ALLOW_404=1: a 404 answer prints nothing and succeeds)
  local method=$1 path=$2 body=${3:-} out code
  out=$(mktemp)
  if [[ -n "$body" ]]; then
    code=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" -H @"$headers" --data-binary "$body" "${INFLUXDB_URL%/}$path") || { rm -f "$out"; echo "create-task: cannot reach $INFLUXDB_URL" >&2; exit 1; }
  else
    code=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" -H @"$headers" "${INFLUXDB_URL%/}$path") || { rm -f "$out"; echo "create-task: cannot reach $INFLUXDB_URL" >&2; exit 1; }
  fi
  if [[ "$code" == 404 && "${ALLOW_404:-}" == 1 ]]; then
    rm -f "$out"; return 0
  fi
  if [[ "$code" != 2* ]]; then
    echo "create-task: $method ${path%%\?*}: HTTP $code: $(head -c 500 "$out")" >&2
    [[ "$code" == 401 ]] && echo "create-task: check INFLUXDB_TOKEN" >&2
    rm -f "$out"; exit 1
  fi
  cat "$out"; rm -f "$out"
}
json() { python3 -c "$1" "${@:2}"; }
urlq() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

resp=$(ALLOW_404=1 api GET "/api/v2/orgs?org=$(urlq "$INFLUXDB_ORG")")
org_id=$(json 'import json,sys
orgs=json.loads(sys.stdin.read().strip() or "{}").get("orgs") or []
print(orgs[0]["id"] if orgs else "")' <<<"$resp")
[[ -n "$org_id" ]] || { echo "create-task: organisation $INFLUXDB_ORG not found" >&2; exit 1; }

resp=$(ALLOW_404=1 api GET "/api/v2/buckets?orgID=$org_id&name=$(urlq "$DOWNSAMPLE_BUCKET")")
bucket_id=$(json 'import json,sys
b=json.loads(sys.stdin.read().strip() or "{}").get("buckets") or []
print(b[0]["id"] if b else "")' <<<"$resp")
if [[ -z "$bucket_id" ]]; then
  body=$(json 'import json,sys; print(json.dumps({"orgID": sys.argv[1], "name": sys.argv[2],
    "retentionRules": [{"type": "expire", "everySeconds": int(sys.argv[3])}] if int(sys.argv[3]) else []}))' \
    "$org_id" "$DOWNSAMPLE_BUCKET" "$DOWNSAMPLE_RETENTION")
  api POST /api/v2/buckets "$body" >/dev/null
  echo "bucket $DOWNSAMPLE_BUCKET created"
else
  echo "bucket $DOWNSAMPLE_BUCKET exists"
fi

# The Flux with this installation's bucket names (the lines `src = "..."` and `dst = "..."`).
flux=$(json 'import json,re,sys
text=open(sys.argv[1], encoding="utf-8").read()
for key, value in (("src", sys.argv[2]), ("dst", sys.argv[3])):
    text, n = re.subn(r"(?m)^%s = \".*\"$" % key, lambda m: "%s = %s" % (key, json.dumps(value)), text)
    if n != 1:
        sys.exit("create-task: %s: expected one line %s = \"...\"" % (sys.argv[1], key))
print(json.dumps(text))' "$TASK_FILE" "$INFLUXDB_BUCKET" "$DOWNSAMPLE_BUCKET")
name=$(json 'import json,re,sys
m=re.search(r"option task = \{name: \"([^\"]+)\"", json.loads(sys.argv[1]))
print(m.group(1) if m else "")' "$flux")
[[ -n "$name" ]] || { echo "create-task: no option task = {name: ...} in $TASK_FILE" >&2; exit 1; }

resp=$(ALLOW_404=1 api GET "/api/v2/tasks?orgID=$org_id&name=$(urlq "$name")")
task_id=$(json 'import json,sys
t=json.loads(sys.stdin.read().strip() or "{}").get("tasks") or []
print(t[0]["id"] if t else "")' <<<"$resp")
if [[ -z "$task_id" ]]; then
  resp=$(api POST /api/v2/tasks "{\"orgID\": \"$org_id\", \"status\": \"active\", \"flux\": $flux}")
  task_id=$(json 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$resp")
  echo "task $name created: $task_id"
else
  api PATCH "/api/v2/tasks/$task_id" "{\"status\": \"active\", \"flux\": $flux}" >/dev/null
  echo "task $name updated: $task_id"
fi
echo "runs: ${INFLUXDB_URL%/}/api/v2/tasks/$task_id/runs   (the UI: Tasks > $name)"
