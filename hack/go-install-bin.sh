#!/usr/bin/env bash
# Builds one program of a module on the Go module proxy into bin/NAME-VERSION, cached: a
# binary already there is kept, so a second run costs nothing. For modules whose go.mod has
# no replace directives (`go install` refuses those), so no tools module is needed and the
# root go.mod is left alone. hack/build-helm.sh and hack/build-kwok.sh call it.
#
#   hack/go-install-bin.sh NAME VERSION PACKAGE [LDFLAGS]
#       prints the binary's path on stdout, progress on stderr; LDFLAGS are added to
#       "-s -w" (the -X that sets the program's own version, as its Makefile does)
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 NAME VERSION PACKAGE [LDFLAGS]" >&2; exit 2; }
name=$1 version=$2 pkg=$3 ldflags=${4:-}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin/$name-$version"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

start=$(date +%s)
echo ">> building $name $version from the Go module proxy (once)" >&2
mkdir -p "$root/bin"
tmp=$(mktemp -d "$root/bin/.$name-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 GOBIN="$tmp" go install -v -trimpath -ldflags "-s -w $ldflags" "$pkg@$version" 2>&1 |
  "$root/hack/build-progress.sh" "$name"
mv "$tmp/$(basename "$pkg")" "$bin"
echo ">> built $bin in $(( $(date +%s) - start ))s" >&2
echo "$bin"
