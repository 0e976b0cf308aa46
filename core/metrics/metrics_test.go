package metrics

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestFinished(t *testing.T) {
	tests := []struct {
		name   string
		a      *Activation
		status string
		start  string
		runs   int // observations expected in the run histogram
	}{
		{"warm success", &Activation{Namespace: "t1", Action: "/t1/a", Kind: "k1", Backend: "b1", Status: 0, Start: Warm, Run: time.Millisecond}, "success", "warm", 1},
		{"cold with init", &Activation{Namespace: "t1", Action: "/t1/a", Kind: "k1", Backend: "b1", Status: 2, Start: Cold, Init: time.Millisecond, Run: time.Millisecond}, "developer_error", "cold", 1},
		{"never ran", &Activation{Namespace: "t1", Action: "/t1/b", Kind: "unknown", Status: 3, Start: None}, "whisk_error", "none", 0},
		{"odd status and start", &Activation{Namespace: "t1", Action: "/t1/c", Kind: "k1", Backend: "b1", Status: 42, Start: Start(9), Wait: -time.Second}, "unknown", "unknown", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := invocations.WithLabelValues(tt.a.Namespace, tt.a.Action, tt.a.Kind, tt.a.Backend, tt.status, tt.start)
			before := testutil.ToFloat64(c)
			Finished(tt.a)
			if got := testutil.ToFloat64(c) - before; got != 1 {
				t.Fatalf("invocations grew by %v, want 1", got)
			}
		})
	}
	Finished(nil) // must not panic
	if n := testutil.CollectAndCount(runTime, "stoke_activation_run_seconds"); n < 2 {
		t.Fatalf("run histogram series %d, want >= 2", n)
	}
}

func TestHistogramsForConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	got := make([]*histograms, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = histogramsFor("kc", "bc", Warm)
		}()
	}
	wg.Wait()
	for i, h := range got {
		if h != got[0] {
			t.Fatalf("caller %d got a different child", i)
		}
	}
	if histogramsFor("kc", "bc", Cold) == got[0] {
		t.Fatal("cold and warm share a child")
	}
}

func TestPoolCollector(t *testing.T) {
	WatchPool(7, func() Pool {
		return Pool{BudgetMB: 1024, UsedMB: 256, Queued: 2, Sandboxes: []PoolCount{
			{Kind: "wasm", Backend: "wasm", State: "warm", N: 1},
			{Kind: "wasm", Backend: "wasm", State: "warm", N: 2}, // duplicates add up
			{Kind: "nodejs:20", Backend: "docker", State: "prewarm", N: 1},
		}}
	})
	defer UnwatchPool(7)
	WatchPool(8, nil) // no-op
	want := `
# HELP stoke_pool_sandboxes Sandboxes in the invoker's pool, by kind, backend and state (warm, busy, prewarm, paused, starting).
# TYPE stoke_pool_sandboxes gauge
stoke_pool_sandboxes{backend="docker",invoker="7",kind="nodejs:20",state="prewarm"} 1
stoke_pool_sandboxes{backend="wasm",invoker="7",kind="wasm",state="warm"} 3
# HELP stoke_pool_memory_used_bytes Memory reserved by the sandboxes in the invoker's pool.
# TYPE stoke_pool_memory_used_bytes gauge
stoke_pool_memory_used_bytes{invoker="7"} 2.68435456e+08
# HELP stoke_pool_queued Activations waiting in the invoker's queue for memory.
# TYPE stoke_pool_queued gauge
stoke_pool_queued{invoker="7"} 2
`
	if err := testutil.CollectAndCompare(pools, strings.NewReader(want), "stoke_pool_sandboxes", "stoke_pool_memory_used_bytes", "stoke_pool_queued"); err != nil {
		t.Fatal(err)
	}
	UnwatchPool(7)
	if n := testutil.CollectAndCount(pools); n != 0 {
		t.Fatalf("%d series after unwatch, want 0", n)
	}
}

func BenchmarkFinishedWarm(b *testing.B) {
	a := &Activation{Namespace: "guest", Action: "/guest/echo", Kind: "wasm", Backend: "wasm", Start: Warm, Wait: 30 * time.Microsecond, Run: 20 * time.Microsecond}
	b.ReportAllocs()
	for b.Loop() {
		Finished(a)
	}
}
