#!/usr/bin/env bash
# HTTPS side by side: Portcullis and nginx on the same certificate, the same backend, the same
# clients, one core each. Measures full TLS handshakes per second (`openssl s_time -new`, one
# connection at a time) and keep-alive HTTPS requests per second (`wrk`, 50 connections).
#   benches/tls-vs-nginx.sh            # 10 s per measurement
#   SECONDS_PER_RUN=3 benches/tls-vs-nginx.sh
# Needs: nginx, wrk, openssl, taskset (installs nginx and wrk with apt-get when root and missing).
# Writes benches/results/tls-vs-nginx.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${SECONDS_PER_RUN:-10}
BACKEND=127.0.0.1:19100
PORTCULLIS=127.0.0.1:19443
NGINX=127.0.0.1:19543

missing=()
for tool in nginx wrk openssl taskset; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y -qq nginx wrk openssl util-linux >/dev/null
  missing=()
  for tool in nginx wrk openssl taskset; do command -v "$tool" >/dev/null || missing+=("$tool"); done
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]} (install them, e.g. apt-get install nginx wrk openssl)" >&2
  exit 1
fi

cargo build --release -q -p portcullis -p portcullis-examples
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# One ECDSA P-256 certificate for both proxies.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
  -subj /CN=bench.test -addext subjectAltName=DNS:bench.test \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
mkdir -p "$work/manifests"
python3 - "$work" "$BACKEND" <<'EOF'
import base64, sys
work, backend = sys.argv[1], sys.argv[2]
host, port = backend.split(":")
b64 = lambda name: base64.b64encode(open(f"{work}/{name}", "rb").read()).decode()
open(f"{work}/manifests/bench.yaml", "w").write(f"""
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: portcullis}}
spec: {{controller: portcullis.dev/ingress-controller}}
---
apiVersion: v1
kind: Secret
metadata: {{name: bench-tls, namespace: bench}}
type: kubernetes.io/tls
data: {{tls.crt: {b64('cert.pem')}, tls.key: {b64('key.pem')}}}
---
apiVersion: v1
kind: Service
metadata: {{name: backend, namespace: bench}}
spec: {{ports: [{{name: http, port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: backend-1, namespace: bench, labels: {{kubernetes.io/service-name: backend}}}}
addressType: IPv4
ports: [{{name: http, port: {port}}}]
endpoints: [{{addresses: ["{host}"]}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: bench, namespace: bench}}
spec:
  ingressClassName: portcullis
  tls: [{{hosts: [bench.test], secretName: bench-tls}}]
  rules:
  - http:
      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: backend, port: {{name: http}}}}}}}}]
""")
EOF
cat > "$work/nginx.conf" <<EOF
worker_processes 1;
worker_cpu_affinity 01;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream backend { server $BACKEND; keepalive 64; }
  server {
    listen $NGINX ssl http2;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
EOF

taskset -c 1 target/release/demo-backend --listen "$BACKEND" --body-size 64 & pids+=($!)
RUST_LOG=warn TOKIO_WORKER_THREADS=1 taskset -c 0 target/release/portcullis ingress \
  --manifests "$work/manifests" --http-addr 127.0.0.1:19080 --https-addr "$PORTCULLIS" \
  --admin-addr 127.0.0.1:19081 --default-ssl-certificate bench/bench-tls & pids+=($!)
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" -g 'daemon off;' & pids+=($!)
sleep 1
for addr in "$PORTCULLIS" "$NGINX"; do
  curl -sSk --fail "https://$addr/" -o /dev/null || { echo "proxy at $addr is not answering" >&2; exit 1; }
done

handshakes() { # addr -> handshakes per second
  taskset -c 1 openssl s_time -connect "$1" -new -time "$RUN" 2>/dev/null \
    | awk '/connections in .* real seconds/ {printf "%.0f", $1 / $4}'
}
requests() { # addr -> requests per second
  taskset -c 1 wrk -t1 -c50 -d"${RUN}s" "https://$1/" | awk '/Requests\/sec/ {printf "%.0f", $2}'
}
echo "warming up..."
RUN=2 handshakes "$PORTCULLIS" >/dev/null; RUN=2 handshakes "$NGINX" >/dev/null
taskset -c 1 wrk -t1 -c50 -d2s "https://$PORTCULLIS/" >/dev/null
taskset -c 1 wrk -t1 -c50 -d2s "https://$NGINX/" >/dev/null

p_hs=$(handshakes "$PORTCULLIS"); n_hs=$(handshakes "$NGINX")
p_rps=$(requests "$PORTCULLIS"); n_rps=$(requests "$NGINX")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

mkdir -p benches/results
report=benches/results/tls-vs-nginx.md
{
  echo "# HTTPS: Portcullis vs nginx"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores ($(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}')), $(uname -r)."
  echo "Portcullis $(git rev-parse --short HEAD) (release, 1 tokio worker), $(nginx -v 2>&1 | sed 's/.*: //') (1 worker)."
  echo "Both pinned to core 0; backend (\`demo-backend --body-size 64\`) and clients on core 1."
  echo "Same ECDSA P-256 certificate, TLS 1.3 negotiated, upstream keep-alive on both, ${RUN} s per run."
  echo
  echo "| measurement | Portcullis | nginx | Portcullis / nginx |"
  echo "|---|---|---|---|"
  echo "| full handshakes/s (\`openssl s_time -new\`, 1 connection at a time) | $p_hs | $n_hs | $(ratio "$p_hs" "$n_hs") |"
  echo "| keep-alive HTTPS requests/s (\`wrk -t1 -c50\`, HTTP/1.1) | $p_rps | $n_rps | $(ratio "$p_rps" "$n_rps") |"
} > "$report"
cat "$report"
