package metrics

import (
	"sort"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Pool is one invoker's pool as read at scrape time.
type Pool struct {
	BudgetMB  int // memory the pool may hold
	UsedMB    int // memory reserved by its sandboxes
	Queued    int // activations waiting for memory
	Sandboxes []PoolCount
}

// PoolCount is the number of sandboxes of one kind and backend in one
// state: "warm" (initialised, idle), "busy" (running or initialising),
// "prewarm" (stem cell), "paused" (paused or pausing), "starting" (being
// created).
type PoolCount struct {
	Kind, Backend, State string
	N                    int
}

// poolSources are the registered invokers' snapshot functions, by invoker
// id. They run only when /metrics is scraped.
var poolSources = struct {
	sync.Mutex
	m map[int]func() Pool
}{m: map[int]func() Pool{}}

// WatchPool registers the snapshot function of invoker id's pool,
// replacing any earlier one for that id. f must be safe to call from any
// goroutine.
func WatchPool(id int, f func() Pool) {
	poolSources.Lock()
	defer poolSources.Unlock()
	if f == nil {
		delete(poolSources.m, id)
		return
	}
	poolSources.m[id] = f
}

// UnwatchPool drops invoker id's pool from the metrics.
func UnwatchPool(id int) { WatchPool(id, nil) }

var (
	descSandboxes = prometheus.NewDesc("stoke_pool_sandboxes",
		"Sandboxes in the invoker's pool, by kind, backend and state (warm, busy, prewarm, paused, starting).",
		[]string{"invoker", "kind", "backend", "state"}, nil)
	descBudget = prometheus.NewDesc("stoke_pool_memory_budget_bytes",
		"Memory the invoker's pool may reserve for sandboxes.", []string{"invoker"}, nil)
	descUsed = prometheus.NewDesc("stoke_pool_memory_used_bytes",
		"Memory reserved by the sandboxes in the invoker's pool.", []string{"invoker"}, nil)
	descQueued = prometheus.NewDesc("stoke_pool_queued",
		"Activations waiting in the invoker's queue for memory.", []string{"invoker"}, nil)
)

// poolCollector reads the registered pools at scrape time, so the
// activation path never updates a gauge.
type poolCollector struct{}

var pools prometheus.Collector = poolCollector{}

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSandboxes
	ch <- descBudget
	ch <- descUsed
	ch <- descQueued
}

func (poolCollector) Collect(ch chan<- prometheus.Metric) {
	poolSources.Lock()
	ids := make([]int, 0, len(poolSources.m))
	fs := make(map[int]func() Pool, len(poolSources.m))
	for id, f := range poolSources.m {
		ids = append(ids, id)
		fs[id] = f
	}
	poolSources.Unlock()
	sort.Ints(ids)
	const mb = 1 << 20
	for _, id := range ids {
		p := fs[id]()
		inv := strconv.Itoa(id)
		ch <- prometheus.MustNewConstMetric(descBudget, prometheus.GaugeValue, float64(p.BudgetMB)*mb, inv)
		ch <- prometheus.MustNewConstMetric(descUsed, prometheus.GaugeValue, float64(p.UsedMB)*mb, inv)
		ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(p.Queued), inv)
		// Sum duplicates, which a const metric would reject.
		sum := map[PoolCount]int{}
		for _, c := range p.Sandboxes {
			n := c.N
			c.N = 0
			sum[c] += n
		}
		for c, n := range sum {
			ch <- prometheus.MustNewConstMetric(descSandboxes, prometheus.GaugeValue, float64(n), inv, c.Kind, c.Backend, c.State)
		}
	}
}
