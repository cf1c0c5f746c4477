#!/usr/bin/env bash
# Build flanneld $FLANNEL_VERSION (e2e/kind/versions.env) from the Go module proxy, with no registry
# and no git clone, and print its path: $CACHE/bin/flannel-<version>/flanneld. A warm machine
# rebuilds nothing.
#
# Two things make the upstream module build here:
#   - its go.mod requires github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common v1.3.79,
#     which the proxy does not serve: a throwaway main module requires flannel and replaces that
#     module by $FLANNEL_TENCENTCLOUD_COMMON_VERSION (the only change; nothing of flannel is patched);
#   - the udp backend is C (pkg/backend/udp/proxy_amd64.c, libc only), so CGO_ENABLED=1, linked
#     statically as upstream does. netgo and osusergo keep Go's own resolver and user lookup, so
#     the static binary never calls glibc's NSS (getaddrinfo and friends do not work statically).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
FLANNEL_BIN=$CACHE/bin/flannel-$FLANNEL_VERSION
MODULE=github.com/flannel-io/flannel
TENCENT=github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common

log() { echo "build-flannel: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ -x $FLANNEL_BIN/flanneld ]]; then
  log "cached: $FLANNEL_BIN/flanneld"
  echo "$FLANNEL_BIN/flanneld"
  exit 0
fi

# The same Go caches as the node image's build (build-node-image.sh); no toolchain download.
export GOMODCACHE=$CACHE/go/mod GOCACHE=$CACHE/go/build GOTOOLCHAIN=local
export GOFLAGS="-mod=mod -modcacherw -buildvcs=false" CGO_ENABLED=1
command -v gcc >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null

t0=$SECONDS
src=$CACHE/src/flannel-$FLANNEL_VERSION
rm -rf "$src" "$FLANNEL_BIN.tmp"
mkdir -p "$src" "$FLANNEL_BIN.tmp"
# The replace comes before `go get`, else resolving flannel's requirements asks for v1.3.79.
cat >"$src/go.mod" <<EOF
module gingham.local/e2e/flannel

go 1.25.0

replace $TENCENT => $TENCENT $FLANNEL_TENCENTCLOUD_COMMON_VERSION
EOF
# go get prints one line per module it downloads (hundreds, cold): keep only the rest (pipefail
# still fails on go get's status).
(cd "$src" && go get "$MODULE@$FLANNEL_VERSION" 2>&1 | { grep -Ev '^go: (downloading|added|upgraded) ' || true; } >&2
  go build -trimpath -tags netgo,osusergo \
    -ldflags "-s -w -X $MODULE/pkg/version.Version=$FLANNEL_VERSION -linkmode external -extldflags -static" \
    -o "$FLANNEL_BIN.tmp/flanneld" "$MODULE")

# Static, and the version it reports is ours.
if ldd "$FLANNEL_BIN.tmp/flanneld" >/dev/null 2>&1; then die "flanneld is dynamically linked"; fi
v=$("$FLANNEL_BIN.tmp/flanneld" --version 2>&1 | tail -n1)
[[ $v == "$FLANNEL_VERSION" ]] || die "flanneld reports '$v', expected $FLANNEL_VERSION"
rm -rf "$FLANNEL_BIN"
mv "$FLANNEL_BIN.tmp" "$FLANNEL_BIN"
log "built $FLANNEL_BIN/flanneld in $((SECONDS - t0)) s"
echo "$FLANNEL_BIN/flanneld"
