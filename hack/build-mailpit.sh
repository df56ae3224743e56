#!/usr/bin/env bash
# Builds mailpit, the demo's mail catcher (an SMTP server that keeps every message and shows
# it on a web page), from the Go module proxy into bin/mailpit-<version>, cached: a binary
# already there is kept, so a second run costs nothing.
#
#   hack/build-mailpit.sh        prints the binary's path on stdout, progress on stderr
#
# The module holds the web page's sources (server/ui-src) but not their build
# (server/ui/dist, which the binary embeds): the script copies the module out of the
# module cache, builds the page with the module's own package-lock.json through the npm
# registry (npm ci, esbuild), then the binary. Cold on 2 cores: 41 s measured.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
MAILPIT_VERSION=${MAILPIT_VERSION:-v1.27.11}
bin="$root/bin/mailpit-$MAILPIT_VERSION"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

command -v npm >/dev/null || {
  echo ">> apt-get install npm (mailpit's web page is built with npm)" >&2
  sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm >/dev/null
}

start=$(date +%s)
echo ">> building mailpit $MAILPIT_VERSION from the Go module proxy (about a minute, once)" >&2
dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/axllent/mailpit@$MAILPIT_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "mailpit $MAILPIT_VERSION: not in the module cache after go mod download" >&2; exit 1; }
src="$root/bin/src/mailpit-$MAILPIT_VERSION"
rm -rf "$src" && mkdir -p "$(dirname "$src")"
cp -r "$dir" "$src" && chmod -R u+w "$src"
(
  cd "$src"
  echo ">> mailpit: its web page (npm ci, esbuild)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  npm run package >/dev/null
  [ -f server/ui/dist/app.js ] || { echo "mailpit: the web page was not built (server/ui/dist/app.js missing)" >&2; exit 1; }
  echo ">> mailpit: the binary" >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/axllent/mailpit/config.Version=$MAILPIT_VERSION" -o "$bin.tmp" .
)
mv "$bin.tmp" "$bin"
rm -rf "$src"
echo ">> built $bin in $(( $(date +%s) - start ))s" >&2
echo "$bin"
