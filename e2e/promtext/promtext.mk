# `make promtext`: Prometheus' own text parser (e2e/promtext, Go, github.com/prometheus/common
# expfmt) built into the e2e cache, for the e2e checks of the agents' /metrics (e2e/lib/prometheus.ts
# builds it on first use too). Offline but for the Go module proxy; a warm cache builds nothing.
# Included by the Makefile.
.PHONY: promtext

promtext:
	bash e2e/promtext/build.sh >/dev/null
