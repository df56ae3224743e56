#!/usr/bin/env bash
# Builds Kubernetes control-plane binaries from the Go module proxy into bin/k8s/<version>/
# (the usual envtest download cannot work here). A binary already there is kept, so a second
# run costs nothing. Usage: hack/build-k8s.sh [component ...]
# Components: kube-apiserver etcd kubectl kube-controller-manager kube-scheduler kubelet kube-proxy
# Default: what envtest and the tests need (kube-apiserver etcd kubectl); hack/local-cluster.sh
# asks for all seven.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
out="$root/bin/k8s/$KUBE_VERSION"
mod="$root/hack/tools/k8s"
mkdir -p "$out"
# bin/ holds downloaded sources too (Cilium's): a go.mod of its own keeps them out of
# the project's module, so that ./... never reaches them.
[ -f "$root/bin/go.mod" ] || printf 'module scrutin.local/bin\n' >"$root/bin/go.mod"
# One build at a time: make test and hack/local-cluster.sh may ask for the same binary at once.
exec 9>"$out/.lock"
flock 9
[ $# -gt 0 ] || set -- kube-apiserver etcd kubectl
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
for c in "$@"; do
  if [ -x "$out/$c" ]; then continue; fi
  case "$c" in
    etcd) pkg=go.etcd.io/etcd/server/v3 ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kubectl) pkg=k8s.io/kubernetes/cmd/$c ;;
    *) echo "unknown component $c" >&2; exit 2 ;;
  esac
  case "$c" in
    kube-apiserver) hint="about 6 minutes on 2 cores when cold" ;;
    *) hint="under a minute to about 2 minutes when cold" ;;
  esac
  echo ">> building $c ($pkg, Kubernetes $KUBE_VERSION) from the Go module proxy ($hint)" >&2
  start=$(date +%s)
  total=$(cd "$mod" && go list -deps "$pkg" | wc -l)
  (cd "$mod" && CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$out/$c.tmp" "$pkg") 2>&1 |
    "$root/hack/build-progress.sh" "$c" "$total"
  mv "$out/$c.tmp" "$out/$c"
  echo ">> built $out/$c in $(( $(date +%s) - start ))s" >&2
done
