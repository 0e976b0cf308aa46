package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// benchTarget is one of the goals of issue "Benchmarks and metrics".
type benchTarget struct {
	Name     string  `json:"name"`
	Goal     string  `json:"goal"`
	Measured string  `json:"measured"`
	Value    float64 `json:"value"`
	Met      bool    `json:"met"`
	Missing  bool    `json:"missing,omitempty"` // not measured in this run
}

func (b *benchRun) targets() []benchTarget {
	get := func(name string) (benchResult, bool) {
		r, ok := b.byName[name]
		return r, ok && r.N > 0
	}
	var ts []benchTarget
	add := func(name, goal string, ok bool, value float64, measured string, met bool) {
		if !ok {
			ts = append(ts, benchTarget{Name: name, Goal: goal, Measured: "not measured", Missing: true})
			return
		}
		ts = append(ts, benchTarget{Name: name, Goal: goal, Measured: measured, Value: value, Met: met})
	}

	api, ok1 := get("api-warm-wasm")
	direct, ok2 := get("direct-run-wasm")
	d := api.P50us - direct.P50us
	floorNote := ""
	if floor, ok := get("api-floor"); ok {
		floorNote = fmt.Sprintf("; of it, an HTTP round trip with auth costs %.1f µs here, the platform %.1f µs", floor.P50us, d-floor.P50us)
	}
	add("warm path overhead (wasm, in-memory bus)", "<= 100 µs median", ok1 && ok2, d,
		fmt.Sprintf("%.1f µs (API %.1f − direct %.1f; %.1f×%s)", d, api.P50us, direct.P50us, api.P50us/max(direct.P50us, 1e-9), floorNote), d <= 100)

	first, ok := get("api-first-wasm")
	ratio := first.P50us / max(api.P50us, 1e-9)
	add("first wasm invocation", "<= 2× warm (median)", ok && ok1, ratio,
		fmt.Sprintf("%.2f× (%.1f µs vs %.1f µs)", ratio, first.P50us, api.P50us), ratio <= 2)

	pre, ok := get("api-prewarm-docker-node")
	if !ok {
		pre, ok = get("api-prewarm-runc-node")
	}
	add("container prewarm hit", "<= 10 ms median", ok, pre.P50us/1000, fmt.Sprintf("%.2f ms", pre.P50us/1000), pre.P50us <= 10000)

	cold, ok1 := get("api-cold-docker-node")
	raw, ok2 := get("raw-docker-create-start")
	ratio = cold.P50us / max(raw.P50us, 1e-9)
	add("docker cold start", "<= 1.1× raw docker create+start", ok1 && ok2, ratio,
		fmt.Sprintf("%.2f× (%.1f ms vs %.1f ms)", ratio, cold.P50us/1000, raw.P50us/1000), ratio <= 1.1)

	best := 0.0
	for _, r := range b.results {
		if len(r.Name) > 10 && r.Name[:10] == "tput-wasm-" && r.Name != "tput-wasm-kafka-c32" {
			best = max(best, r.OpsPerSec)
		}
	}
	add("no-op wasm throughput", ">= 20,000 invocations/s", best > 0, best, fmt.Sprintf("%.0f/s (best closed-loop step)", best), best >= 20000)

	best = 0
	for _, r := range b.results {
		for _, p := range []string{"tput-docker-", "tput-runc-"} {
			if len(r.Name) > len(p) && r.Name[:len(p)] == p {
				best = max(best, r.OpsPerSec)
			}
		}
	}
	add("warm container throughput", ">= 5,000 invocations/s", best > 0, best, fmt.Sprintf("%.0f/s (best closed-loop step)", best), best >= 5000)

	one, ok1 := get("many-1-action-c32")
	var many benchResult
	ok2 = false
	for _, r := range b.results {
		if len(r.Name) > 5 && r.Name[:5] == "many-" && r.Name != "many-1-action-c32" {
			many, ok2 = r, true
		}
	}
	ratio = many.OpsPerSec / max(one.OpsPerSec, 1e-9)
	add("many actions", ">= 50% of one action's throughput", ok1 && ok2, ratio,
		fmt.Sprintf("%.0f%% (%.0f/s vs %.0f/s)", ratio*100, many.OpsPerSec, one.OpsPerSec), ratio >= 0.5)
	return ts
}

func printTargets(w io.Writer, ts []benchTarget) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tgoal\tmeasured\t")
	met := 0
	for _, t := range ts {
		mark := "MISSED"
		switch {
		case t.Missing:
			mark = "n/a"
		case t.Met:
			mark = "met"
			met++
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t\n", mark, t.Name, t.Goal, t.Measured)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d of %d targets met\n", met, len(ts))
}
