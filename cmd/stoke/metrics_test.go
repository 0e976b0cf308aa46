package main

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServeMetrics invokes through a real server and reads the series back
// from /metrics.
func TestServeMetrics(t *testing.T) {
	base := startServe(t, t.TempDir(), "--invocations-per-minute", "5")
	c := whiskClient(t, base)
	if _, _, err := c.Actions.Insert(wasmAction("metrics-echo", echoWasm), false); err != nil {
		t.Fatalf("create: %v", err)
	}
	for i := 0; i < 5; i++ {
		if _, _, err := c.Actions.Invoke("metrics-echo", map[string]any{"i": i}, true, true); err != nil {
			t.Fatalf("invoke %d: %v", i, err)
		}
	}
	if _, resp, err := c.Actions.Invoke("metrics-echo", map[string]any{}, true, true); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("sixth invoke in a minute: %v, want 429", err)
	}

	action := `action="/guest/metrics-echo"`
	wasm := []string{`kind="wasm"`, `backend="wasm"`}
	tests := []struct {
		name   string
		metric string
		labels []string
		want   func(float64) bool
		says   string
	}{
		{"warm invocations", "stoke_invocations_total", append([]string{action, `status="success"`, `start="warm"`, `namespace="guest"`}, wasm...), eq(4), "4"},
		{"accepted", "stoke_controller_invokes_total", []string{`namespace="guest"`, `outcome="accepted"`}, atLeast(5), ">= 5"},
		{"throttled", "stoke_controller_invokes_total", []string{`namespace="guest"`, `outcome="throttled"`}, atLeast(1), ">= 1"},
		{"warm run latency", "stoke_activation_run_seconds_count", append([]string{`start="warm"`}, wasm...), atLeast(4), ">= 4"},
		{"warm wait latency", "stoke_activation_wait_seconds_count", append([]string{`start="warm"`}, wasm...), atLeast(4), ">= 4"},
		{"bus lag", "stoke_bus_lag_seconds_count", nil, atLeast(5), ">= 5"},
		{"warm sandbox", "stoke_pool_sandboxes", append([]string{`invoker="0"`, `state="warm"`}, wasm...), atLeast(1), ">= 1"},
		{"budget", "stoke_pool_memory_budget_bytes", []string{`invoker="0"`}, eq(2048 << 20), "2 GiB"},
		{"memory in use", "stoke_pool_memory_used_bytes", []string{`invoker="0"`}, atLeast(256 << 20), ">= 256 MiB"},
		{"go runtime", "go_goroutines", nil, atLeast(1), ">= 1"},
	}
	// The invoker reports after it has answered: give it a moment.
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		body = scrape(t, base)
		ok := true
		for _, tt := range tests {
			v, found := sample(body, tt.metric, tt.labels)
			ok = ok && found && tt.want(v)
		}
		if ok || time.Now().After(deadline) {
			break
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, found := sample(body, tt.metric, tt.labels)
			if !found {
				t.Fatalf("no %s{%s} in /metrics", tt.metric, strings.Join(tt.labels, ","))
			}
			if !tt.want(v) {
				t.Fatalf("%s{%s} = %v, want %s", tt.metric, strings.Join(tt.labels, ","), v, tt.says)
			}
		})
	}
	// The first invocation was not warm: it created or took a sandbox.
	cold, _ := sample(body, "stoke_invocations_total", []string{action, `start="cold"`})
	pre, _ := sample(body, "stoke_invocations_total", []string{action, `start="prewarm"`})
	if cold+pre != 1 {
		t.Errorf("cold %v + prewarm %v invocations, want 1", cold, pre)
	}
}

func eq(want float64) func(float64) bool      { return func(v float64) bool { return v == want } }
func atLeast(want float64) func(float64) bool { return func(v float64) bool { return v >= want } }

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type %q", ct)
	}
	return string(b)
}

// sample sums the values of the series of metric that carry every label
// pair in labels.
func sample(body, metric string, labels []string) (float64, bool) {
	var sum float64
	found := false
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) {
			continue
		}
		rest := line[len(metric):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}
