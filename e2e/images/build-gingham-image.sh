#!/usr/bin/env bash
# The gingham image, built without a registry: a small Debian root filesystem (debootstrap, cached)
# with what the agent and the install step call (iproute2, iptables, ipset, nft for the nftables
# dataplane, nsenter, ulogd2 with its JSON output for the verdict events, the reference portmap and
# loopback plugins), plus
# bin/gingham; `docker import`ed as gingham-e2e/gingham:dev.
# The same image runs test pods: `gingham probe`, ping (iputils: `ping -M do -s N` for MTU tests)
# and iperf3 (throughput). Prints the image name.
set -euo pipefail
cd "$(dirname "$0")/../.."
source e2e/kind/paths.sh
IMAGE=${GINGHAM_IMAGE:-gingham-e2e/gingham:dev}
PACKAGES=iproute2,iptables,ipset,nftables,util-linux,containernetworking-plugins,ca-certificates,iputils-ping,iperf3,ulogd2,ulogd2-json
ROOTFS=$CACHE/rootfs/gingham-image-$DEBIAN_SUITE-$(echo "$PACKAGES" | sha256sum | cut -c1-12)

if [ ! -f "$ROOTFS/.complete" ]; then
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  rm -rf "$ROOTFS" && mkdir -p "$(dirname "$ROOTFS")"
  start=$(date +%s)
  debootstrap --variant=minbase --include="$PACKAGES" "$DEBIAN_SUITE" "$ROOTFS" >"$ROOTFS.log" 2>&1
  # Space the image does not need.
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/usr/share/doc "$ROOTFS"/usr/share/man "$ROOTFS"/var/lib/apt/lists/*
  touch "$ROOTFS/.complete"
  echo "gingham image rootfs: $(( $(date +%s) - start )) s" >&2
fi

# The binary changes with every build; the rootfs does not. Only rebuild the image when it changed.
sum=$(sha256sum bin/gingham | cut -c1-12)
if [ "$(docker image inspect -f '{{ index .Config.Labels "gingham.binary" }}' "$IMAGE" 2>/dev/null)" != "$sum" ]; then
  install -D -m 0755 bin/gingham "$ROOTFS/usr/local/bin/gingham"
  tar -C "$ROOTFS" --exclude=./.complete -c . |
    docker import --change 'ENTRYPOINT ["/usr/local/bin/gingham"]' --change "LABEL gingham.binary=$sum" - "$IMAGE" >/dev/null
fi
echo "$IMAGE"
