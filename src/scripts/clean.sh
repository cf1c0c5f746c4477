#!/usr/bin/env bash
# make clean: remove what an aborted test, demo or bench run can leave behind. Only names with our
# per-run prefixes are touched: gt<id>- (tests), gd<pid>- (demo), gb<pid>- (bench).
set -u
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^(gt[0-9a-z]+|gd[0-9]+|gb[0-9]+)-' || true); do
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$ns" && echo "removed netns $ns"
done
# Bind mounts a test left in its temp dir (a real netns at a hostile path, say one with a newline,
# which /proc/self/mounts writes as octal escapes), deepest first, so the dirs below can go.
awk '{print $2}' /proc/self/mounts | grep -E '^/tmp/(gt[0-9a-z]+|gd[0-9]+|gb[0-9]+)-' | sort -r | while read -r m; do
  umount "$(printf '%b' "$m")" && echo "unmounted $m"
done
rm -rf /tmp/gt[0-9a-z]*-* /tmp/gd[0-9]*-* /tmp/gb[0-9]*-* 2>/dev/null || true
# The browser test's processes, if its run was killed: the suite's `gingham ui` (this checkout's
# binary with the suite's kubeconfig) and playwright's headless chromium (its profile in /tmp).
repo=$(cd "$(dirname "$0")/../.." && pwd)
pkill -f "^$repo/bin/gingham ui --listen 127\.0\.0\.1:[0-9]+ --kubeconfig $repo/\.e2e/kubeconfig" && echo "stopped the suite's gingham ui"
pkill -f -- '--user-data-dir=/tmp/playwright_chromiumdev_profile-' && echo "stopped playwright's chromium"
rm -rf /tmp/playwright_chromiumdev_profile-* /tmp/playwright-artifacts-* 2>/dev/null || true
# The e2e suite's "outside host" container, if a run died before removing it (kind clusters go with
# make kind-down).
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  if docker inspect gingham-e2e-outside >/dev/null 2>&1; then
    docker rm -f gingham-e2e-outside >/dev/null && echo "removed container gingham-e2e-outside"
  fi
  # make compare pauses the clusters it is not measuring; a run killed outright leaves them so.
  for c in $(docker ps --filter status=paused --format '{{.Names}}' | grep -E '^gingham-' || true); do
    docker unpause "$c" >/dev/null && echo "unpaused kind node $c"
  done
fi
true
