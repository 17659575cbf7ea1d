#!/usr/bin/env bash
# ADD and DEL wall time per pod: portcullis-cni side by side with Debian's reference bridge +
# host-local plugins, same conflist shape, same machine, same run. Each round attaches PODS
# fresh network namespaces with one plugin, then detaches them; plugins alternate, ROUNDS times.
#   benches/cni-vs-reference.sh            # PODS=50 ROUNDS=3
# Needs root, iproute2, python3 and containernetworking-plugins (installed with apt-get when
# root and missing). Writes benches/results/cni-vs-reference.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PODS=${PODS:-50}
ROUNDS=${ROUNDS:-3}
if [ ! -x /usr/lib/cni/bridge ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y -qq containernetworking-plugins >/dev/null
fi
[ -x /usr/lib/cni/bridge ] || { echo "missing: /usr/lib/cni/bridge (apt-get install containernetworking-plugins)" >&2; exit 1; }
cargo build --release -q -p portcullis-cni
exec python3 - "$PODS" "$ROUNDS" "$(pwd)/target/release/portcullis-cni" <<'PY'
import json, os, statistics, subprocess, sys, tempfile, time
pods, rounds, ours = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
plugins = {"portcullis-cni": ours, "reference bridge + host-local": "/usr/lib/cni/bridge"}
tag = os.getpid() % 100000
names = [f"pcbench{tag}x{i}" for i in range(pods)]
def sh(*args): subprocess.run(args, check=True, capture_output=True)
def call(binary, command, config, container, netns):
    env = dict(os.environ, CNI_COMMAND=command, CNI_CONTAINERID=container, CNI_NETNS=netns,
               CNI_IFNAME="eth0", CNI_PATH="/usr/lib/cni")
    started = time.perf_counter()
    done = subprocess.run([binary], input=config.encode(), env=env, capture_output=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{binary} {command} failed: {done.stdout.decode()} {done.stderr.decode()}")
    return elapsed * 1000
times = {name: {"ADD": [], "DEL": []} for name in plugins}
data = tempfile.mkdtemp()
try:
    for n in names: sh("ip", "netns", "add", n)
    for r in range(rounds):
        order = list(plugins.items()) if r % 2 == 0 else list(reversed(plugins.items()))
        for index, (name, binary) in enumerate(order):
            bridge = f"pcbb{tag}{index}"
            config = json.dumps({"cniVersion": "1.0.0", "name": f"bench{index}", "type": "bridge",
                "bridge": bridge, "isGateway": True, "isDefaultGateway": True,
                "ipam": {"type": "host-local", "subnet": f"10.{240 + index}.0.0/16", "dataDir": data}})
            for i, n in enumerate(names):
                times[name]["ADD"].append(call(binary, "ADD", config, f"c{r}-{i}", f"/var/run/netns/{n}"))
            for i, n in enumerate(names):
                times[name]["DEL"].append(call(binary, "DEL", config, f"c{r}-{i}", f"/var/run/netns/{n}"))
            subprocess.run(["ip", "link", "del", bridge], capture_output=True)
finally:
    for n in names: subprocess.run(["ip", "netns", "del", n], capture_output=True)
def q(values, p): return sorted(values)[min(len(values) - 1, int(len(values) * p))]
lines = ["# CNI ADD/DEL wall time: portcullis-cni vs the reference plugins", "",
    f"{os.cpu_count()} cores; {pods} pods x {rounds} rounds per plugin, plugins alternating; wall time "
    "of each plugin process as the runtime sees it (fork, exec, work, exit); release build; "
    "reference: Debian containernetworking-plugins `bridge` + `host-local`. Same conflist for both "
    "(cniVersion 1.0.0, isGateway, isDefaultGateway, one /16 range).", "",
    "| plugin | ADD p50 | ADD p90 | DEL p50 | DEL p90 |", "|---|---|---|---|---|"]
for name in plugins:
    t = times[name]
    lines.append(f"| {name} | {q(t['ADD'], .5):.2f} ms | {q(t['ADD'], .9):.2f} ms | {q(t['DEL'], .5):.2f} ms | {q(t['DEL'], .9):.2f} ms |")
ours_t, ref_t = times["portcullis-cni"], times["reference bridge + host-local"]
lines += ["", f"Ratio (ours / reference, p50): ADD {q(ours_t['ADD'], .5) / q(ref_t['ADD'], .5):.2f}, "
          f"DEL {q(ours_t['DEL'], .5) / q(ref_t['DEL'], .5):.2f} (target: at most 0.5)."]
text = "\n".join(lines) + "\n"
os.makedirs("benches/results", exist_ok=True)
open("benches/results/cni-vs-reference.md", "w").write(text)
print(text)
PY
