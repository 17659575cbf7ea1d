#!/usr/bin/env bash
# Builds a real Kubernetes control plane for tests -- etcd, kube-apiserver,
# kube-controller-manager and kubectl -- from the Go modules pinned in go.mod
# and go.sum beside this script, into a cache folder outside the checkout:
#
#   ${PORTCULLIS_CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/portcullis/control-plane}
#     /k8s-<version>-etcd-<version>/bin
#
# A folder that is already complete is reused without building. The last line
# printed on stdout is that bin folder; progress goes to stderr.
# Needs Go (at least the `go` line of go.mod) and the Go module proxy, or a
# module cache that already holds the modules. A cold build takes a while.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
export CGO_ENABLED=0 GOTOOLCHAIN=local # use the installed Go, never download one

# Check for a usable Go, new enough for go.mod.
need=$(awk '$1 == "go" { print $2; exit }' go.mod)
if ! have=$(go env GOVERSION 2>/dev/null); then
  echo "build.sh: no usable 'go' command on PATH; install Go >= $need" >&2
  exit 1
fi
have=${have#go}
if [[ $(printf '%s\n' "$need" "$have" | sort -V | head -n1) != "$need" ]]; then
  echo "build.sh: Go $have is too old; go.mod needs Go >= $need" >&2
  exit 1
fi

# The release's commit time (from the module proxy) doubles as a reproducible buildDate.
read -r k8s date < <(go list -m -f '{{.Version}} {{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)
etcd=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
root=${PORTCULLIS_CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/portcullis/control-plane}
dir=$root/k8s-$k8s-etcd-$etcd
bins=(etcd kube-apiserver kube-controller-manager kubectl)

complete() {
  [[ -f $dir/stamp ]] || return 1
  for b in "${bins[@]}"; do [[ -x $dir/bin/$b ]] || return 1; done
}

mkdir -p "$root"
exec 9>"$root/.lock"
flock 9 # one build at a time; a second caller waits, then reuses the result

if ! complete; then
  echo "build.sh: building Kubernetes $k8s and etcd $etcd with Go $have into $dir" >&2
  rm -rf "$root"/.build.* # left by an interrupted build; we hold the lock
  tmp=$(mktemp -d "$root/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  chmod 755 "$tmp"

  # The variables that kubernetes' hack/lib/version.sh sets, in both packages.
  # gitCommit stays empty: the module proxy does not record the release commit.
  minor=${k8s#v1.}
  minor=${minor%%.*}
  x=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    x+=" -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    x+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done

  go build -trimpath -ldflags="-s -w$x" -o "$tmp/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl
  go build -trimpath -ldflags="-s -w" -o "$tmp/bin/etcd" go.etcd.io/etcd/server/v3

  printf 'kubernetes %s\netcd %s\ngo %s\n' "$k8s" "$etcd" "$have" >"$tmp/stamp" # last
  rm -rf "$dir"
  mv "$tmp" "$dir"
  echo "build.sh: done" >&2
fi

echo "$dir/bin"
