// promtext: reads a Prometheus text exposition (what a /metrics endpoint serves) on stdin, parses it
// with Prometheus' own parser (github.com/prometheus/common/expfmt), and prints the metric families
// as JSON on stdout, so the e2e suite checks the agent's exposition with the parser a Prometheus
// server would use rather than with string matching. Text the parser refuses ends the program with
// the parser's error on stderr and exit 1; so does a series (name and label set) given twice, which
// the parser lets through but a Prometheus scrape rejects. Usage: promtext [-utf8] < exposition
//
// Output: [{"name","type","help","metrics":[{"labels":{...},"value"|"buckets","sum","count"|
// "quantiles","sum","count", "timestampMs"?}]}], families sorted by name. Numbers that JSON cannot
// carry (NaN, +Inf, -Inf) are the strings "NaN", "+Inf", "-Inf".
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// number is a float64 that marshals non-finite values as Prometheus writes them.
type number float64

func (n number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(f)
}

type bucket struct {
	Le    number `json:"le"`
	Count number `json:"count"`
}

type quantile struct {
	Quantile number `json:"quantile"`
	Value    number `json:"value"`
}

type metric struct {
	Labels      map[string]string `json:"labels"`
	Value       *number           `json:"value,omitempty"`
	Buckets     []bucket          `json:"buckets,omitempty"`
	Quantiles   []quantile        `json:"quantiles,omitempty"`
	Sum         *number           `json:"sum,omitempty"`
	Count       *number           `json:"count,omitempty"`
	TimestampMs *int64            `json:"timestampMs,omitempty"`
}

type family struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Help    string   `json:"help"`
	Metrics []metric `json:"metrics"`
}

func ptr(f float64) *number { n := number(f); return &n }

func convert(mf *dto.MetricFamily) (family, error) {
	f := family{Name: mf.GetName(), Type: strings.ToLower(mf.GetType().String()), Help: mf.GetHelp(), Metrics: []metric{}}
	seen := map[model.Fingerprint]bool{}
	for _, m := range mf.GetMetric() {
		out := metric{Labels: map[string]string{}}
		set := model.LabelSet{}
		for _, l := range m.GetLabel() {
			out.Labels[l.GetName()] = l.GetValue()
			set[model.LabelName(l.GetName())] = model.LabelValue(l.GetValue())
		}
		// The parser keeps a repeated series as two metrics; a scrape would refuse it.
		if seen[set.Fingerprint()] {
			return f, fmt.Errorf("metric family %s: series %s given more than once", f.Name, set)
		}
		seen[set.Fingerprint()] = true
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			out.Value = ptr(m.GetCounter().GetValue())
		case dto.MetricType_GAUGE:
			out.Value = ptr(m.GetGauge().GetValue())
		case dto.MetricType_UNTYPED:
			out.Value = ptr(m.GetUntyped().GetValue())
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			h := m.GetHistogram()
			out.Buckets = []bucket{}
			for _, b := range h.GetBucket() {
				c := float64(b.GetCumulativeCount())
				if b.CumulativeCountFloat != nil {
					c = b.GetCumulativeCountFloat()
				}
				out.Buckets = append(out.Buckets, bucket{Le: number(b.GetUpperBound()), Count: number(c)})
			}
			c := float64(h.GetSampleCount())
			if h.SampleCountFloat != nil {
				c = h.GetSampleCountFloat()
			}
			out.Sum, out.Count = ptr(h.GetSampleSum()), ptr(c)
		case dto.MetricType_SUMMARY:
			s := m.GetSummary()
			out.Quantiles = []quantile{}
			for _, q := range s.GetQuantile() {
				out.Quantiles = append(out.Quantiles, quantile{Quantile: number(q.GetQuantile()), Value: number(q.GetValue())})
			}
			out.Sum, out.Count = ptr(s.GetSampleSum()), ptr(float64(s.GetSampleCount()))
		}
		if m.TimestampMs != nil {
			ts := m.GetTimestampMs()
			out.TimestampMs = &ts
		}
		f.Metrics = append(f.Metrics, out)
	}
	return f, nil
}

func run() error {
	utf8 := flag.Bool("utf8", false, "accept UTF-8 metric and label names (Prometheus 3); default: the legacy [a-zA-Z_:][a-zA-Z0-9_:]* names every version accepts")
	flag.Parse()
	if flag.NArg() > 0 {
		return errors.New("usage: promtext [-utf8] < exposition")
	}
	scheme := model.LegacyValidation
	if *utf8 {
		scheme = model.UTF8Validation
	}
	parser := expfmt.NewTextParser(scheme)
	byName, err := parser.TextToMetricFamilies(os.Stdin)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]family, 0, len(names))
	for _, n := range names {
		f, err := convert(byName[n])
		if err != nil {
			return err
		}
		out = append(out, f)
	}
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(out)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "promtext: %v\n", err)
		os.Exit(1)
	}
}
