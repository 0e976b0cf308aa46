package balancer

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/controller"
)

// Config tunes a Balancer. The zero value gives OpenWhisk's defaults.
type Config struct {
	// Controllers is how many controllers share the invokers (default 1);
	// each places at most its share of an invoker's memory.
	Controllers int
	// OfflineAfter is how long without a ping makes an invoker offline
	// (default 10s).
	OfflineAfter time.Duration
	// ProbeAfter is how long an unhealthy invoker is left alone before it
	// is tried again (default 10s).
	ProbeAfter time.Duration
	// DefaultMemoryMB is charged for an activation whose message carries no
	// memory limit (default 256, OpenWhisk's default action memory).
	DefaultMemoryMB int
	Logger          *slog.Logger
	// Now replaces the clock (tests).
	Now func() time.Time
}

// minShareMB is the least an invoker's share can be, as in OpenWhisk.
const minShareMB = 128

// Balancer places activations on invokers. It implements
// controller.Balancer and controller.Releaser. Safe for concurrent use.
type Balancer struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	invokers []*invoker // by id; ids never seen are nil
	placed   map[string]placement
	steps    map[int][]int // coprimes by invoker count
	states   []State       // last logged state by id
	warned   time.Time     // last overload warning: one a second at most
}

type placement struct {
	invoker, memoryMB int
}

// New returns a Balancer that knows no invoker yet: until the first ping
// every Invoker call is controller.ErrNoInvokers.
func New(cfg Config) *Balancer {
	if cfg.Controllers <= 0 {
		cfg.Controllers = 1
	}
	if cfg.OfflineAfter <= 0 {
		cfg.OfflineAfter = 10 * time.Second
	}
	if cfg.ProbeAfter <= 0 {
		cfg.ProbeAfter = 10 * time.Second
	}
	if cfg.DefaultMemoryMB <= 0 {
		cfg.DefaultMemoryMB = 256
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Balancer{cfg: cfg, log: cfg.Logger, placed: map[string]placement{}, steps: map[int][]int{}}
}

// Run feeds the balancer the invokers' pings until ctx ends.
func (b *Balancer) Run(ctx context.Context, bs bus.Bus) error {
	err := bs.ConsumePings(ctx, b.Ping)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("balancer: consume pings: %w", err)
	}
	return nil
}

// Ping records an invoker's heartbeat.
func (b *Balancer) Ping(p *bus.Ping) {
	if p == nil || p.Invoker < 0 || p.Invoker > 1<<16 {
		return
	}
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.invokers) <= p.Invoker {
		b.invokers = append(b.invokers, nil)
		b.states = append(b.states, Offline)
	}
	v := b.invokers[p.Invoker]
	if v == nil {
		v = &invoker{id: p.Invoker}
		b.invokers[p.Invoker] = v
	}
	if v.state(now, b.cfg.OfflineAfter, b.cfg.ProbeAfter) == Offline {
		// Back from the dead (or new): a fresh process, fresh results.
		v.clear()
	}
	v.lastPing, v.enabled = now, p.Enabled
	v.capacity = max(p.MemoryMB/b.cfg.Controllers, min(p.MemoryMB, minShareMB))
	b.logChanges(now)
}

// Invoker picks the invoker for m and charges it m's memory. It returns
// controller.ErrNoInvokers when no invoker is healthy.
func (b *Balancer) Invoker(m *bus.ActivationMessage) (int, error) {
	mem := m.MemoryMB
	if mem <= 0 {
		mem = b.cfg.DefaultMemoryMB
	}
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logChanges(now)
	if p, ok := b.placed[m.ActivationID]; ok {
		// Asked twice for one activation: do not charge twice.
		return p.invoker, nil
	}
	n := len(b.invokers)
	steps, ok := b.steps[n]
	if !ok && n > 0 {
		steps = coprimes(n)
		b.steps[n] = steps
	}
	var healthy []*invoker
	if n > 0 {
		h := hash(m.Namespace, m.Name)
		home := int(h % uint32(n))
		step := steps[int(h%uint32(len(steps)))]
		for i, idx := 0, home; i < n; i, idx = i+1, (idx+step)%n {
			v := b.invokers[idx]
			if v == nil || v.state(now, b.cfg.OfflineAfter, b.cfg.ProbeAfter) != Healthy {
				continue
			}
			if v.used+mem <= v.capacity {
				return b.place(m.ActivationID, v, mem), nil
			}
			healthy = append(healthy, v)
		}
	}
	if len(healthy) == 0 {
		return 0, controller.ErrNoInvokers
	}
	// Every healthy invoker is full: overload one at random rather than
	// refuse; the activation waits in that invoker's queue.
	v := healthy[rand.IntN(len(healthy))]
	if now.Sub(b.warned) < time.Second {
		return b.place(m.ActivationID, v, mem), nil
	}
	b.warned = now
	b.log.Warn("system is overloaded: forcing an invoker past its memory", "invoker", v.id, "usedMB", v.used, "capacityMB", v.capacity)
	return b.place(m.ActivationID, v, mem), nil
}

func (b *Balancer) place(id string, v *invoker, mem int) int {
	v.used += mem
	if id != "" {
		b.placed[id] = placement{invoker: v.id, memoryMB: mem}
	}
	return v.id
}

// Release frees the memory of an ended activation and counts its outcome
// towards the invoker's health: systemError for a whisk error or an
// activation the controller had to give up on. Unknown ids are ignored, so
// a second release of one activation does nothing.
func (b *Balancer) Release(activationID string, systemError bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.placed[activationID]
	if !ok {
		return
	}
	delete(b.placed, activationID)
	v := b.invokers[p.invoker]
	v.used -= p.memoryMB
	v.result(systemError, b.cfg.Now())
}

// Forget frees the memory of an activation that was never sent; it does
// not count towards health.
func (b *Balancer) Forget(activationID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, ok := b.placed[activationID]; ok {
		delete(b.placed, activationID)
		b.invokers[p.invoker].used -= p.memoryMB
	}
}

// Status is one invoker as the balancer sees it.
type Status struct {
	Invoker    int    `json:"invoker"`
	State      string `json:"state"`
	UsedMB     int    `json:"usedMB"`
	CapacityMB int    `json:"capacityMB"`
}

// Invokers reports every invoker heard of, by id.
func (b *Balancer) Invokers() []Status {
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Status
	for _, v := range b.invokers {
		if v == nil {
			continue
		}
		out = append(out, Status{Invoker: v.id, State: v.state(now, b.cfg.OfflineAfter, b.cfg.ProbeAfter).String(), UsedMB: v.used, CapacityMB: v.capacity})
	}
	return out
}

// logChanges logs state transitions; the caller holds b.mu.
func (b *Balancer) logChanges(now time.Time) {
	for i, v := range b.invokers {
		if v == nil {
			continue
		}
		s := v.state(now, b.cfg.OfflineAfter, b.cfg.ProbeAfter)
		if s != b.states[i] {
			b.log.Info("invoker state", "invoker", i, "from", b.states[i].String(), "to", s.String())
			b.states[i] = s
		}
	}
}

var _ controller.Balancer = (*Balancer)(nil)
