#!/usr/bin/env bash
# Delete the Flannel cluster (env.sh names it) and only it: e2e/kind/down.sh under that name.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec bash "$HERE/down.sh"
