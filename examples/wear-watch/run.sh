#!/usr/bin/env bash
# The /wear /watch demo: two demo backends plus the Portcullis ingress reading
# examples/wear-watch/manifests, all on 127.0.0.1, no cluster needed.
#   examples/wear-watch/run.sh          run until Ctrl-C, printing curl lines to try
#   examples/wear-watch/run.sh --check  run the curl lines, check the answers, stop
set -euo pipefail
cd "$(dirname "$0")/../.."
HTTP_ADDR=${HTTP_ADDR:-127.0.0.1:8080}
ADMIN_ADDR=${ADMIN_ADDR:-127.0.0.1:10254}
PROFILE=${PROFILE:-release}

cargo build --profile "$PROFILE" -p portcullis -p portcullis-examples
bin="target/$PROFILE"
[ "$PROFILE" = dev ] && bin=target/debug

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$bin/demo-backend" --listen 127.0.0.1:9001 --name wear & pids+=($!)
"$bin/demo-backend" --listen 127.0.0.1:9002 --name watch & pids+=($!)
"$bin/portcullis" ingress --manifests examples/wear-watch/manifests \
  --http-addr "$HTTP_ADDR" --admin-addr "$ADMIN_ADDR" & pids+=($!)

for _ in $(seq 100); do
  curl -fsS "http://$ADMIN_ADDR/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://$ADMIN_ADDR/readyz" >/dev/null || { echo "portcullis did not become ready" >&2; exit 1; }

if [ "${1:-}" = "--check" ]; then
  fail=0
  check() { # path, expected status, expected text
    local out status
    out=$(curl -sS -w '\n%{http_code}' "http://$HTTP_ADDR$1")
    status=${out##*$'\n'}
    if [ "$status" = "$2" ] && grep -q "$3" <<<"$out"; then echo "ok   $1 -> $status"; else echo "FAIL $1 -> $status: $out"; fail=1; fi
  }
  check /wear 200 'wear:'
  check /wear/shirts 200 'wear:'
  check /watch 200 'watch:'
  check /watches 404 'Not Found'
  check / 404 'Not Found'
  exit $fail
fi

cat <<MSG

Portcullis is routing on http://$HTTP_ADDR (admin on http://$ADMIN_ADDR). Try:

  curl -i http://$HTTP_ADDR/wear           # -> wear backend
  curl -i http://$HTTP_ADDR/watch/smart    # -> watch backend
  curl -i http://$HTTP_ADDR/watches        # -> 404: /watch is matched element-wise, not as a string prefix
  curl http://$ADMIN_ADDR/metrics | grep portcullis_requests_total

Edit examples/wear-watch/manifests/*.yaml and the routes change without a restart.
Ctrl-C stops everything.
MSG
wait "${pids[2]}"
