package invoker

import (
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/metrics"
	"github.com/stokehq/stoke/core/pool"
)

// poolMetrics is the pool as core/metrics reads it at scrape time; it
// takes the pool lock once per scrape, never per activation.
func (inv *Invoker) poolMetrics() metrics.Pool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	p := metrics.Pool{BudgetMB: inv.pool.CapacityMB(), UsedMB: inv.pool.UsedMB(), Queued: inv.pool.Queued()}
	type key struct {
		kind  string
		state string
	}
	counts := map[key]int{}
	for _, s := range inv.pool.All() {
		counts[key{s.Kind, poolState(s)}]++
	}
	for k, n := range counts {
		backend := ""
		if _, be, ok := inv.runtime(k.kind); ok {
			backend = be.name
		}
		p.Sandboxes = append(p.Sandboxes, metrics.PoolCount{Kind: k.kind, Backend: backend, State: k.state, N: n})
	}
	return p
}

func poolState(s *pool.Sandbox) string {
	switch s.State {
	case pool.Starting:
		return "starting"
	case pool.Prewarmed:
		return "prewarm"
	case pool.Pausing, pool.Paused:
		return "paused"
	case pool.Initializing:
		return "busy"
	}
	if s.Active > 0 {
		return "busy"
	}
	return "warm"
}

// startOf maps the pool's placement to the metrics' start type.
func startOf(k pool.Kind) metrics.Start {
	switch k {
	case pool.Warm:
		return metrics.Warm
	case pool.Prewarm:
		return metrics.Prewarm
	case pool.Cold:
		return metrics.Cold
	}
	return metrics.None
}

// observe reports a finished activation to core/metrics, after the
// completion has gone out.
func (inv *Invoker) observe(j *job, code int, wait, init, run time.Duration, ran bool) {
	if !ran {
		run = 0
	}
	metrics.Finished(&metrics.Activation{
		Namespace: j.ns,
		Action:    j.act.FullName(),
		Kind:      j.act.Exec.Kind,
		Backend:   j.be.name,
		Status:    code,
		Start:     startOf(j.start),
		Wait:      wait,
		Init:      init,
		Run:       run,
	})
}

// observeFailure reports an activation that never reached a sandbox.
func (inv *Invoker) observeFailure(m *bus.ActivationMessage, a *entity.Action, ns string, code int) {
	act := &metrics.Activation{Namespace: ns, Action: "/" + m.Namespace + "/" + m.Name, Kind: "unknown", Status: code}
	if a != nil {
		act.Action, act.Kind = a.FullName(), a.Exec.Kind
		if _, be, ok := inv.runtime(a.Exec.Kind); ok {
			act.Backend = be.name
		}
	}
	metrics.Finished(act)
}
