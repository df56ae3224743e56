#!/usr/bin/env bash
# Builds kwok (sigs.k8s.io/kwok, its controller binary cmd/kwok), which fakes nodes and the
# pods bound to them for test/bench/scale, from the Go module proxy into bin/kwok-<version>,
# cached: a binary already there is kept, so a second run costs nothing.
#
#   hack/build-kwok.sh        prints the binary's path on stdout, progress on stderr
#
# `go install sigs.k8s.io/kwok/cmd/kwok@<version>` builds from the module's own go.mod (it
# has no replace directives), so no tools module is needed and the root go.mod is left alone.
# Cold: 2m20s of CPU (user+sys), 3m47s wall on 2 cores busy with other tests (one package at a
# time, nice 19).
set -euo pipefail
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
# kwok prints its version from pkg/consts; the ldflags set it as its own Makefile does.
exec "$(dirname "$0")/go-install-bin.sh" kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
