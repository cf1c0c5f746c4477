# `make compare` (issue 8), the class tool: the same workload on the gingham cluster and the Flannel
# cluster, side by side in one markdown table (e2e/compare/compare.ts). Included by the Makefile,
# after its kind targets. Both clusters are brought up first (kind-up reuses a running cluster and
# re-installs its CNI) and left running; `make kind-down` and `make kind-down CNI=flannel` remove
# them. The table goes to .e2e/compare/report.md (COMPARE_REPORT) and to stdout; the per-cluster
# JSON beside it. COMPARE_ARGS passes more options (--pods, --runs, --seconds, --pings, --only).
COMPARE_REPORT ?= .e2e/compare/report.md
COMPARE_ARGS   ?=

.PHONY: compare

compare: npm-deps
	$(MAKE) kind-up CNI=gingham IP_FAMILY=ipv4 BACKEND=$(BACKEND)
	$(MAKE) kind-up CNI=flannel IP_FAMILY=ipv4 BACKEND=$(BACKEND)
	$(NODE24) e2e/compare/compare.ts --report $(COMPARE_REPORT) $(COMPARE_ARGS)
