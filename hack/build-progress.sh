#!/usr/bin/env bash
# Shows how far a long `go build -v` has come, for the first run's builds (Kubernetes,
# Cilium, ...), which take minutes each and print nothing by themselves.
#
#   (go build -v ... "$pkg") 2>&1 | hack/build-progress.sh NAME [TOTAL]
#
# Reads the build's output: each line `go build -v` prints is a package it has compiled;
# every 20 s at most, one line says how many so far, of TOTAL (`go list -deps PKG | wc -l`:
# a package already in Go's build cache is not compiled again, so the count can stop
# short of it), and for how long. Any other line (a compiler error) is passed on as is.
# Progress goes to stderr; the caller's pipefail carries the build's exit status.
name=${1:?usage: build-progress.sh NAME [TOTAL]} total=${2:-}
of=; [ -n "$total" ] && [ "$total" -gt 0 ] 2>/dev/null && of=" of $total"
n=0 last=$SECONDS start=$SECONDS
while IFS= read -r line; do
  case $line in
    '' | *' '* | *:* | '#'*) printf '%s\n' "$line" >&2 ;; # not a package path: an error, a warning
    *)
      n=$((n + 1))
      if ((SECONDS - last >= 20)); then
        last=$SECONDS
        printf '>>   %s: %d%s packages compiled, %dm%02ds so far\n' "$name" "$n" "$of" $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) >&2
      fi ;;
  esac
done
exit 0
