#!/usr/bin/env bash
# Builds every fuzz target, then runs each for SECONDS (default 600), one after another.
#
#   fuzz/run-all.sh [SECONDS] [TARGET...]     (no TARGET: all of `cargo fuzz list`)
#
# Each target starts from the committed seeds (seeds/TARGET) plus what earlier runs found
# (corpus/TARGET, not committed); crashes, leaks and timeouts go to artifacts/TARGET/, the
# libFuzzer output to logs/TARGET.log. Exits non-zero if any target crashed.
#
# Environment: FUZZ_BUILD_LOCK=FILE builds under `flock FILE` (a machine whose cargo runs
# are serialised); FUZZ_NICE=N runs the fuzzers under `nice -n N` (default 19);
# FUZZ_TIMEOUT=S reports an input as a timeout after S seconds (default 25).
set -euo pipefail

cd "$(dirname "$0")"
seconds=${1:-600}
shift || true

lock=()
if [[ -n ${FUZZ_BUILD_LOCK:-} ]]; then
    lock=(flock "$FUZZ_BUILD_LOCK")
fi
"${lock[@]}" cargo +nightly fuzz build

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin=target/$triple/release

dictionary() {
    case $1 in
        manifests_yaml | network_policy | ingress_translate) echo dicts/kubernetes.dict ;;
        cni_config) echo dicts/cni.dict ;;
        pem_secret) echo dicts/pem.dict ;;
        request_target) echo dicts/http.dict ;;
    esac
}

mkdir -p logs
failed=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target" "seeds/$target"
    args=(-max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-25}" -print_final_stats=1
        -artifact_prefix="artifacts/$target/")
    dict=$(dictionary "$target")
    if [[ -n $dict && -f $dict ]]; then
        args+=(-dict="$dict")
    fi
    echo "== $target: ${seconds}s"
    status=0
    nice -n "${FUZZ_NICE:-19}" "$bin/$target" "${args[@]}" "corpus/$target" "seeds/$target" \
        >"logs/$target.log" 2>&1 || status=$?
    # The last status line (executions, coverage) and the final statistics.
    grep -E '^#[0-9]+' "logs/$target.log" | tail -n 1 || true
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "logs/$target.log" || true
    if [[ $status -ne 0 ]]; then
        echo "!! $target failed (exit $status); see logs/$target.log and artifacts/$target/"
        failed+=("$target")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "crashed: ${failed[*]}"
    exit 1
fi
echo "all clean: ${targets[*]}"
