# `make compare` (issues 8 and 20), the class tool: the same workload on the gingham cluster, the
# Flannel cluster and the reference bridge cluster, side by side in one markdown report, with
# alternating burst rounds and where the pods' time goes (e2e/compare/compare.ts). Included by the
# Makefile, after its kind targets. The three clusters are brought up first (kind-up reuses a running
# cluster and re-installs its CNI) and left running; `make kind-down CNI=gingham|flannel|bridge`
# removes them. The report goes to .e2e/compare/report.md (COMPARE_REPORT) and to stdout, the
# measurements' JSON beside it. COMPARE_ARGS passes more options (--pairs, --pods, --settle, --only,
# --bursts-only, --no-pause, --runs, --seconds, --pings).
COMPARE_REPORT ?= .e2e/compare/report.md
COMPARE_ARGS   ?=
# The shim measure.ts puts in front of each CNI's plugins on the nodes (static: any node image).
CNI_TIMER      := $(CACHE)/bin/cni-timer

.PHONY: compare

$(CNI_TIMER): e2e/compare/cni-timer.c
	@mkdir -p $(dir $@)
	gcc -O2 -static -Wall -Wextra -o $@ $<

compare: npm-deps $(CNI_TIMER)
	$(MAKE) kind-up CNI=gingham IP_FAMILY=ipv4 BACKEND=$(BACKEND)
	$(MAKE) kind-up CNI=flannel IP_FAMILY=ipv4 BACKEND=$(BACKEND)
	$(MAKE) kind-up CNI=bridge IP_FAMILY=ipv4
	$(NODE24) e2e/compare/compare.ts --report $(COMPARE_REPORT) $(COMPARE_ARGS)
