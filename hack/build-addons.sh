#!/usr/bin/env bash
# Builds the local cluster's add-ons from the Go module proxy into bin/addons/ (cached: a
# binary already there is kept, so a second run costs nothing), and installs the Debian
# packages the Cilium agent needs at run time (clang-19, llvm-19, ipset) where missing.
#
#   hack/build-addons.sh [component ...]     components: cilium-agent cilium-cni metrics-server traefik
#                                            default: all four, plus the packages
#   hack/build-addons.sh packages            only the Debian packages
#
# Modules: hack/tools/cilium (github.com/cilium/cilium, with the two replace lines the proxy
# needs), hack/tools/metrics-server (sigs.k8s.io/metrics-server) and hack/tools/traefik
# (github.com/traefik/traefik/v3, repeating the replace lines of Traefik's go.mod); the root
# go.mod is left alone. Cold wall times on 2 cores: cilium-agent about 6 minutes, cilium-cni
# about 1 minute, metrics-server about 1-2 minutes, traefik (v3.6.12, not
# v3.7: see hack/tools/traefik/go.mod) 8.4 minutes measured with empty Go caches on an
# idle 2-core machine, its module downloads included, 15 on a busy one (680 s user, 137 s
# sys; 3 GiB peak RSS; a 178 MB binary). Output: bin/addons/<name>-<version>, plus a
# bin/addons/<name> symlink to it, so that changing a version rebuilds. cilium-agent also
# stages what the agent reads at run time from the module: bin/addons/cilium-data-<version>/
# bpf/ (the BPF C sources it compiles with clang, copied under its --lib-dir) and crds/ (the
# CustomResourceDefinitions, which the absent cilium-operator would otherwise register).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bin/addons"
mkdir -p "$out"

CILIUM_VERSION=$(awk '$1=="require" && $2=="github.com/cilium/cilium" {print $3}' "$root/hack/tools/cilium/go.mod")
METRICS_SERVER_VERSION=$(awk '$1=="require" && $2=="sigs.k8s.io/metrics-server" {print $3}' "$root/hack/tools/metrics-server/go.mod")
TRAEFIK_VERSION=$(awk '$1=="require" && $2=="github.com/traefik/traefik/v3" {print $3}' "$root/hack/tools/traefik/go.mod")

# Debian packages the agent needs: clang >= 18 to compile its BPF programs (Debian 12's default
# clang is 14: clang-19 and llvm-19 come from bookworm's repositories), ipset and iptables for
# its rules; and jq, which hack/local-cluster/addons.sh uses.
packages() {
  local missing=()
  command -v clang-19 >/dev/null || missing+=(clang-19)
  command -v llc-19 >/dev/null || missing+=(llvm-19)
  command -v ipset >/dev/null || missing+=(ipset)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v jq >/dev/null || missing+=(jq)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo ">> apt-get install ${missing[*]}" >&2
  local sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() { # name version module-dir package ldflags [tags]
  local name=$1 version=$2 mod=$3 pkg=$4 ldflags=$5 tags=${6:-}
  local bin="$out/$name-$version"
  if [ ! -x "$bin" ]; then
    echo ">> building $name $version ($pkg) from the Go module proxy" >&2
    local start; start=$(date +%s)
    local total; total=$(cd "$mod" && go list -deps ${tags:+-tags "$tags"} "$pkg" | wc -l)
    (cd "$mod" && CGO_ENABLED=0 go build -v -trimpath ${tags:+-tags "$tags"} -ldflags "$ldflags" -o "$bin.tmp" "$pkg") 2>&1 |
      "$root/hack/build-progress.sh" "$name" "$total"
    mv "$bin.tmp" "$bin"
    echo ">> built $bin in $(( $(date +%s) - start ))s" >&2
  fi
  ln -sfn "$name-$version" "$out/$name"
}

# The module's bpf/ sources and CRD manifests, for hack/local-cluster/addons.sh.
cilium_data() {
  local data="$out/cilium-data-$CILIUM_VERSION"
  [ -d "$data/bpf" ] && [ -d "$data/crds" ] && return 0
  local dir
  dir=$(cd "$root/hack/tools/cilium" && go mod download github.com/cilium/cilium && go list -m -f '{{.Dir}}' github.com/cilium/cilium)
  rm -rf "$data.tmp" && mkdir -p "$data.tmp/crds"
  cp -r "$dir/bpf" "$data.tmp/bpf"
  cp "$dir"/pkg/k8s/apis/cilium.io/client/crds/*/*.yaml "$data.tmp/crds/"
  chmod -R u+w "$data.tmp"
  rm -rf "$data" && mv "$data.tmp" "$data"
  ln -sfn "cilium-data-$CILIUM_VERSION" "$out/cilium-data"
}

cilium_ldflags="-s -w -X 'github.com/cilium/cilium/pkg/version.ciliumVersion=${CILIUM_VERSION#v} go-module-proxy'"
[ $# -gt 0 ] || set -- packages cilium-agent cilium-cni metrics-server traefik
for c in "$@"; do
  case "$c" in
    packages) packages ;;
    cilium-agent)
      build cilium-agent "$CILIUM_VERSION" "$root/hack/tools/cilium" github.com/cilium/cilium/daemon "$cilium_ldflags" osusergo
      cilium_data ;;
    cilium-cni)
      build cilium-cni "$CILIUM_VERSION" "$root/hack/tools/cilium" github.com/cilium/cilium/plugins/cilium-cni "$cilium_ldflags" osusergo ;;
    metrics-server)
      build metrics-server "$METRICS_SERVER_VERSION" "$root/hack/tools/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server \
        "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION" ;;
    traefik)
      build traefik "$TRAEFIK_VERSION" "$root/hack/tools/traefik" github.com/traefik/traefik/v3/cmd/traefik \
        "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" ;;
    *) echo "unknown component $c" >&2; exit 2 ;;
  esac
done
