# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
# Sourced by build.sh and run.sh: where the conformance pieces live in the e2e cache, and the test
# images they need. Everything is named by version, so a bump rebuilds only what changed.
CONF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR/../kind
source "$CONF_DIR/../kind/paths.sh"

# e2e.test and agnhost come from the same k8s.io/kubernetes module.
E2E_BIN=$CACHE/bin/e2e-$K8S_VERSION
E2E_TEST=$E2E_BIN/e2e.test
AGNHOST=$E2E_BIN/agnhost
GINKGO=$CACHE/bin/ginkgo-$GINKGO_VERSION/ginkgo

# The images the [sig-network] [Conformance] tests run, exactly as e2e.test names them
# (test/utils/image/manifest.go): agnhost nearly everywhere, jessie-dnsutils as the second DNS
# prober, nginx in "EndpointSlice should create Endpoints and EndpointSlices for Pods matching a
# Service". The pause image (Service endpoints latency) is already in the node image.
AGNHOST_IMAGE=registry.k8s.io/e2e-test-images/agnhost:$AGNHOST_VERSION
JESSIE_IMAGE=registry.k8s.io/e2e-test-images/jessie-dnsutils:$JESSIE_DNSUTILS_VERSION
NGINX_IMAGE=registry.k8s.io/e2e-test-images/nginx:$NGINX_TEST_VERSION
TEST_IMAGES=("$AGNHOST_IMAGE" "$JESSIE_IMAGE" "$NGINX_IMAGE")
