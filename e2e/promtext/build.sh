#!/usr/bin/env bash
# Builds e2e/promtext (Prometheus' own text parser, exposition in, JSON out) into the e2e cache,
# offline but for the Go module proxy, and prints the binary's path. The folder is named for a hash
# of the sources, so an edit rebuilds and a warm cache answers at once (make promtext and
# e2e/lib/prometheus.ts both call this).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source-path=SCRIPTDIR/../kind
source ../kind/paths.sh
LOG_PREFIX=promtext/build
# shellcheck source-path=SCRIPTDIR/../kind
source "$HERE/build-lib.sh"
export GOFLAGS="$GOFLAGS -mod=mod"

out=$CACHE/bin/promtext-$(cat go.mod go.sum main.go | sha256sum | cut -c1-12)
if [[ ! -x $out/promtext ]]; then
  start_dir "$out"
  quiet go build -trimpath -ldflags "-s -w" -o "$out.tmp/promtext" .
  finish_dir "$out"
  log "built $out/promtext"
fi
echo "$out/promtext"
