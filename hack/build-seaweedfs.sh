#!/usr/bin/env bash
# Builds SeaweedFS (weed), the S3-compatible server the archive tests upload to,
# from the Go module proxy into bin/seaweedfs-<version>, cached: a binary already
# there is kept, so a second run costs nothing.
#
#   hack/build-seaweedfs.sh         prints the binary's path on stdout, progress on stderr
#   hack/build-seaweedfs.sh --path  prints where the binary is or would be; builds nothing
#
# SeaweedFS's go.mod has a replace directive (go-bip39), which `go install` refuses:
# the binary is built inside the module's own directory in the module cache, where
# its go.mod is the main module's and its replace applies as SeaweedFS's own build
# does. Cold on 2 cores (a machine busy with other builds): 1452 s measured, so it
# is not part of `make tools`: `make test-archive` builds it on demand.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SEAWEEDFS_VERSION=${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
bin="$root/bin/seaweedfs-$SEAWEEDFS_VERSION"
if [ "${1:-}" = --path ]; then echo "$bin"; exit 0; fi
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

start=$(date +%s)
echo ">> building SeaweedFS $SEAWEEDFS_VERSION from the Go module proxy (long: about 25 minutes cold on 2 cores, once)" >&2
dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/seaweedfs/seaweedfs@$SEAWEEDFS_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "seaweedfs $SEAWEEDFS_VERSION: not in the module cache after go mod download" >&2; exit 1; }
mkdir -p "$root/bin"
(
  cd "$dir"
  total=$(GOFLAGS=-mod=mod go list -deps ./weed | wc -l)
  CGO_ENABLED=0 GOFLAGS=-mod=mod go build -v -trimpath -ldflags "-s -w" -o "$bin.tmp" ./weed 2>&1 |
    "$root/hack/build-progress.sh" seaweedfs "$total"
)
mv "$bin.tmp" "$bin"
echo ">> built $bin in $(( $(date +%s) - start ))s" >&2
echo "$bin"
