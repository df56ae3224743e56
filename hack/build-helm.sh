#!/usr/bin/env bash
# Builds helm (v3), which installs and checks charts/scrutin, from the Go module proxy into
# bin/helm-<version>, cached: a binary already there is kept, so a second run costs nothing.
#
#   hack/build-helm.sh        prints the binary's path on stdout, progress on stderr
#
# `go install helm.sh/helm/v3/cmd/helm@<version>` builds from the module's own go.mod (it
# has no replace directives), so no tools module is needed and the root go.mod is left alone.
# Cold: 3m40s of CPU (user+sys), 6m40s wall on 2 cores busy with other builds.
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-v3.22.0}
# helm prints its version from internal/version; the ldflags set it as its own Makefile does.
exec "$(dirname "$0")/go-install-bin.sh" helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
  "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
