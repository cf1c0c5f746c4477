#!/usr/bin/env bash
# make demo: one node and two pods as network namespaces, wired by bin/gingham exactly as a
# runtime would call it. Shows addresses, routes, the bridge and a ping; removes everything after.
set -euo pipefail
cd "$(dirname "$0")/../.."
GINGHAM=$PWD/bin/gingham
P=gd$$                                   # per-run prefix: gd<pid>-node, gd<pid>-pod1, ...
WORK=$(mktemp -d "/tmp/$P-XXXX")
NODE=$P-node

cleanup() {
  for ns in "$P-pod1" "$P-pod2" "$NODE"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
in_ns() { ip netns exec "$1" "${@:2}"; }

cat >"$WORK/demo.conf" <<CONF
{
  "cniVersion": "1.1.0",
  "name": "demo",
  "type": "gingham",
  "bridge": "gingham0",
  "isGateway": true,
  "isDefaultGateway": true,
  "ipMasq": true,
  "logFile": "$WORK/gingham.log",
  "ipam": {
    "type": "gingham",
    "dataDir": "$WORK/ipam",
    "ranges": [[{ "subnet": "198.18.16.0/24" }], [{ "subnet": "fd42:18:16::/64" }]]
  }
}
CONF

cni() { # cni VERB POD
  CNI_COMMAND=$1 CNI_CONTAINERID="demo-$2" CNI_NETNS="/var/run/netns/$P-$2" CNI_IFNAME=eth0 \
    CNI_PATH=$PWD/bin GINGHAM_RUN_DIR="$WORK/run" in_ns "$NODE" "$GINGHAM" <"$WORK/demo.conf"
}

say "a node and two pods, each its own network namespace"
for ns in "$NODE" "$P-pod1" "$P-pod2"; do ip netns add "$ns"; in_ns "$ns" ip link set lo up; done
ip netns list | grep "^$P"

for pod in pod1 pod2; do
  say "CNI ADD $pod (the result kubelet's runtime would get)"
  cni ADD "$pod" | python3 -m json.tool
done

say "pod1: addresses and routes"
in_ns "$P-pod1" ip -br addr show dev eth0
in_ns "$P-pod1" ip route; in_ns "$P-pod1" ip -6 route show default

say "node: the bridge and its ports, and the masquerade chain"
in_ns "$NODE" ip -br addr show dev gingham0
in_ns "$NODE" bridge link
in_ns "$NODE" iptables -t nat -S | grep -E 'GH-|POSTROUTING -s' || true

say "ping pod2 from pod1 (IPv4 and IPv6)"
POD2_V4=$(in_ns "$P-pod2" ip -4 -br addr show dev eth0 | awk '{print $3}' | cut -d/ -f1)
POD2_V6=$(in_ns "$P-pod2" ip -6 -br addr show dev eth0 scope global | awk '{print $3}' | cut -d/ -f1)
in_ns "$P-pod1" busybox ping -c 2 "$POD2_V4"
in_ns "$P-pod1" busybox ping -c 2 "$POD2_V6"

say "reservations as gingham shows them"
"$GINGHAM" ipam --data-dir "$WORK/ipam"

for pod in pod1 pod2; do say "CNI DEL $pod"; cni DEL "$pod" && echo "ok"; done
say "after DEL: no veth, no chain, no reservation"
in_ns "$NODE" ip -br link | grep -c gh- || true
in_ns "$NODE" iptables -t nat -S | grep -c GH- || true
"$GINGHAM" ipam --data-dir "$WORK/ipam"
say "log of the calls ($WORK/gingham.log)"
cat "$WORK/gingham.log"
