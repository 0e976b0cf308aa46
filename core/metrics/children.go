package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// histKey picks the latency histograms of one kind, backend and start
// type. Kinds and backends are few (the runtime manifest's), so the table
// stays small.
type histKey struct {
	kind, backend string
	start         Start
}

type histograms struct {
	wait, init, run prometheus.Observer
}

// children is a copy-on-write table: readers load it without a lock (a map
// lookup with a struct key allocates nothing); the rare miss copies it
// under mu.
var (
	children   atomic.Pointer[map[histKey]*histograms]
	childrenMu sync.Mutex
)

func histogramsFor(kind, backend string, start Start) *histograms {
	k := histKey{kind, backend, start}
	if m := children.Load(); m != nil {
		if h := (*m)[k]; h != nil {
			return h
		}
	}
	childrenMu.Lock()
	defer childrenMu.Unlock()
	old := children.Load()
	if old != nil {
		if h := (*old)[k]; h != nil {
			return h
		}
	}
	s := start.String()
	h := &histograms{
		wait: waitTime.WithLabelValues(kind, backend, s),
		init: initTime.WithLabelValues(kind, backend, s),
		run:  runTime.WithLabelValues(kind, backend, s),
	}
	next := make(map[histKey]*histograms, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[k] = h
	children.Store(&next)
	return h
}

func lenOf(m *map[histKey]*histograms) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
