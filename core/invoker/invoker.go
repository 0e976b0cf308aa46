// Package invoker runs activations: it consumes activation messages from
// the bus, places each on a sandbox through the pool policy (core/pool),
// creates sandboxes with the backends, speaks /init and /run to them,
// answers the controller with a completion as soon as /run returns, and
// writes the activation record with its logs off the critical path.
//
// The warm path is: cached Action, one mutex-guarded pool decision, /run
// on a kept-alive connection (or an in-process Conn for backends that
// implement sdk.Dialer), one completion on the bus. No store read beyond
// the cache, no plugin RPC.
package invoker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/metrics"
	"github.com/stokehq/stoke/core/pool"
	"github.com/stokehq/stoke/core/runtimes"
	"github.com/stokehq/stoke/core/store"
	"github.com/stokehq/stoke/sdk"
)

// Recorder takes finished activation records; core/record batches them
// into the store.
type Recorder interface {
	Write(*entity.Activation)
}

// Config configures an Invoker. Durations follow the Go habit: zero means
// the default, negative means never.
type Config struct {
	ID       int
	Bus      bus.Bus
	Store    store.Store
	Records  Recorder
	Manifest *runtimes.Manifest
	// Backends by backend name, as the manifest refers to them.
	Backends map[string]sdk.Backend
	// MemoryMB is the sum of action memory limits the pool may hold
	// (default 2048).
	MemoryMB int
	// PauseGrace is how long a sandbox stays idle before it is paused, if
	// its backend can pause (default 10s; negative: never pause).
	PauseGrace time.Duration
	// KeepAlive is how long an idle sandbox is kept before it is destroyed
	// (default 10m; negative: forever).
	KeepAlive time.Duration
	// LogWait bounds the wait for an activation's log sentinels after
	// /run (default 2s, OpenWhisk's idle timeout).
	LogWait time.Duration
	// APIHost is passed to sandboxes as __OW_API_HOST.
	APIHost string
	Logger  *slog.Logger
	// Policy replaces the default pool policy (OpenWhisk's).
	Policy pool.Policy
}

type backend struct {
	name   string
	b      sdk.Backend
	dialer sdk.Dialer
	caps   sdk.Capabilities
	kinds  map[string]bool // the kinds its Info declares
}

// Invoker runs activations for one invoker id. Create it with New.
type Invoker struct {
	cfg   Config
	log   *slog.Logger
	be    map[string]*backend // by backend name
	label string              // the invoker id as a label value

	base   context.Context // ends on Close; every activation runs under it
	cancel context.CancelFunc
	wg     sync.WaitGroup // activations and background work

	mu        sync.Mutex
	pool      *pool.Pool
	slots     map[pool.ID]*slot
	stemPause time.Time // no stem cell creation before this (after a failure)
	names     int       // sandbox name counter
	closed    bool
}

// New checks the configuration and asks every backend for its Info
// (capabilities). It starts nothing; Run does.
func New(cfg Config) (*Invoker, error) {
	if cfg.Bus == nil || cfg.Store == nil || cfg.Records == nil || cfg.Manifest == nil {
		return nil, errors.New("invoker: Bus, Store, Records and Manifest are required")
	}
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = 2048
	}
	if cfg.PauseGrace == 0 {
		cfg.PauseGrace = 10 * time.Second
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 10 * time.Minute
	}
	if cfg.LogWait <= 0 {
		cfg.LogWait = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Records = withDurableCompletions(cfg.Records) // durable.go
	inv := &Invoker{
		cfg:   cfg,
		log:   cfg.Logger.With("invoker", cfg.ID),
		be:    make(map[string]*backend, len(cfg.Backends)),
		label: strconv.Itoa(cfg.ID),
		slots: make(map[pool.ID]*slot),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, b := range cfg.Backends {
		info, err := b.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("invoker: backend %q info: %w", name, err)
		}
		d, _ := b.(sdk.Dialer)
		kinds := make(map[string]bool, len(info.Kinds))
		for _, k := range info.Kinds {
			kinds[k] = true
		}
		inv.be[name] = &backend{name: name, b: b, dialer: d, caps: info.Capabilities, kinds: kinds}
	}
	var stems []pool.StemCell
	for _, rt := range cfg.Manifest.All() {
		if inv.be[rt.Backend] == nil {
			continue
		}
		for _, sc := range rt.StemCells {
			stems = append(stems, pool.StemCell{Kind: rt.Kind, MemoryMB: sc.MemoryMB, Count: sc.Count})
		}
	}
	policy := cfg.Policy
	if policy == nil {
		policy = pool.Default{PauseGrace: max(cfg.PauseGrace, 0), KeepAlive: max(cfg.KeepAlive, 0)}
	}
	p, err := pool.New(pool.Config{MemoryMB: cfg.MemoryMB, StemCells: stems}, policy)
	if err != nil {
		return nil, fmt.Errorf("invoker: %w", err)
	}
	inv.pool = p
	metrics.WatchPool(cfg.ID, inv.poolMetrics)
	inv.base, inv.cancel = context.WithCancel(context.Background())
	return inv, nil
}

// runtime resolves a kind to its runtime and backend.
//
// kind is a pool kind: the runtime kind, or "kind@backend" for a sandbox
// on a backend other than the kind's default (see runtimeFor).
func (inv *Invoker) runtime(kind string) (*runtimes.Runtime, *backend, bool) {
	kind, name, alt := strings.Cut(kind, "@")
	rt, ok := inv.cfg.Manifest.Lookup(kind)
	if !ok {
		return nil, nil, false
	}
	if !alt {
		name = rt.Backend
	}
	be := inv.be[name]
	return rt, be, be != nil && (!alt || be.kinds[kind])
}

// runtimeFor is the runtime and backend of an action: its kind's default
// backend, or the one its "backend" annotation names if that one runs the
// kind. It also returns the pool kind, which keeps sandboxes of different
// backends apart (a docker stem cell must not serve a runc action).
func (inv *Invoker) runtimeFor(a *entity.Action) (*runtimes.Runtime, *backend, string, bool) {
	kind := a.Exec.Kind
	var want string
	if v := a.Annotations.Get(runtimes.BackendAnnotation); len(v) > 0 && json.Unmarshal(v, &want) == nil && want != "" {
		if rt, ok := inv.cfg.Manifest.Lookup(kind); ok && want != rt.Backend {
			kind += "@" + want
		}
	}
	rt, be, ok := inv.runtime(kind)
	return rt, be, kind, ok
}

// Prepare lets the backend of a's kind do per-code work ahead of the first
// invocation (compile a wasm module). a must carry its code. Backends
// without sdk.Preparer need nothing.
func (inv *Invoker) Prepare(ctx context.Context, a *entity.Action) error {
	if a == nil {
		return errors.New("invoker: prepare: nil action")
	}
	_, be, _, ok := inv.runtimeFor(a)
	if !ok {
		return fmt.Errorf("invoker: prepare %s: no backend for kind %q", a.FullName(), a.Exec.Kind)
	}
	p, ok := be.b.(sdk.Preparer)
	if !ok {
		return nil
	}
	if err := p.Prepare(ctx, a.Exec.Kind, a.Exec.Code); err != nil {
		return fmt.Errorf("invoker: prepare %s: %w", a.FullName(), err)
	}
	return nil
}

// Run removes sandboxes a previous run of this invoker left behind, starts
// the stem cells and the idle timers, and consumes activations until ctx
// ends or the invoker is closed. Each activation runs on its own
// goroutine.
func (inv *Invoker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-inv.base.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	inv.cleanOrphans(ctx)
	inv.replenish()
	inv.wg.Add(1)
	go inv.janitor(ctx)
	inv.wg.Add(1)
	go inv.heartbeat(ctx)
	err := inv.cfg.Bus.ConsumeActivations(ctx, inv.cfg.ID, func(m *bus.ActivationMessage) {
		if m == nil {
			return
		}
		// Add under the lock Close takes to set closed, so no Add races
		// Close's Wait.
		inv.mu.Lock()
		closed := inv.closed
		if !closed {
			inv.wg.Add(1)
		}
		inv.mu.Unlock()
		if closed { // shutting down: answer rather than drop
			inv.fail(m, nil, entity.StatusWhiskError, msgProvision)
			return
		}
		go inv.handle(m)
	})
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("invoker %d: consume: %w", inv.cfg.ID, err)
}

// cleanOrphans destroys sandboxes labelled with this invoker's id: they
// belong to a previous process that did not shut down cleanly.
func (inv *Invoker) cleanOrphans(ctx context.Context) {
	for _, be := range inv.be {
		sbs, err := be.b.List(ctx, map[string]string{labelInvoker: inv.label})
		if err != nil {
			inv.log.Warn("list orphan sandboxes", "backend", be.name, "err", err)
			continue
		}
		for _, sb := range sbs {
			if err := be.b.Destroy(ctx, sb.ID); err != nil && !errors.Is(err, sdk.ErrNotFound) {
				inv.log.Warn("destroy orphan sandbox", "backend", be.name, "sandbox", sb.ID, "err", err)
			}
		}
	}
}

// janitor pauses and destroys idle sandboxes and keeps the stem cells
// topped up. It ticks at a fraction of the shortest idle timer, so a
// sandbox is paused at most a quarter of the grace late.
func (inv *Invoker) janitor(ctx context.Context) {
	defer inv.wg.Done()
	every := time.Second
	for _, d := range []time.Duration{inv.cfg.PauseGrace, inv.cfg.KeepAlive} {
		if d > 0 && d/4 < every {
			every = d / 4
		}
	}
	every = max(every, 5*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			inv.expire(now)
			inv.replenish()
		}
	}
}

func (inv *Invoker) expire(now time.Time) {
	inv.mu.Lock()
	pause, destroy := inv.pool.Expire(now)
	var ps, ds []*slot
	for _, id := range pause {
		if s := inv.slots[id]; s != nil {
			ps = append(ps, s)
		}
	}
	for _, id := range destroy {
		if s := inv.slots[id]; s != nil {
			delete(inv.slots, id)
			ds = append(ds, s)
		}
	}
	placed := inv.pool.Drain(now)
	inv.mu.Unlock()
	inv.dispatch(placed)
	for _, s := range ps {
		inv.wg.Add(1)
		go inv.pause(s)
	}
	for _, s := range ds {
		inv.wg.Add(1)
		go inv.destroy(s)
	}
}

func (inv *Invoker) pause(s *slot) {
	defer inv.wg.Done()
	ctx, cancel := context.WithTimeout(inv.base, 10*time.Second)
	defer cancel()
	err := s.pause(ctx)
	inv.mu.Lock()
	if err == nil {
		inv.pool.Paused(s.id)
		inv.mu.Unlock()
		return
	}
	// OpenWhisk removes a container it failed to suspend.
	inv.pool.Remove(s.id)
	delete(inv.slots, s.id)
	placed := inv.pool.Drain(time.Now())
	inv.mu.Unlock()
	inv.log.Warn("pause failed; destroying sandbox", "sandbox", s.sb.ID, "err", err)
	inv.dispatch(placed)
	inv.wg.Add(1)
	inv.destroy(s)
}

// replenish starts the stem cells the pool is missing.
func (inv *Invoker) replenish() {
	now := time.Now()
	inv.mu.Lock()
	if inv.closed || now.Before(inv.stemPause) {
		inv.mu.Unlock()
		return
	}
	missing := inv.pool.Replenish(now, inv.canPause)
	inv.wg.Add(len(missing))
	inv.mu.Unlock()
	for _, sb := range missing {
		go inv.startStem(sb)
	}
}

func (inv *Invoker) canPause(kind string) bool {
	_, be, ok := inv.runtime(kind)
	return ok && be.caps.Pause
}

func (inv *Invoker) startStem(p pool.Sandbox) {
	defer inv.wg.Done()
	_, be, _ := inv.runtime(p.Kind)
	ctx, cancel := context.WithTimeout(inv.base, time.Minute)
	defer cancel()
	s, err := inv.create(ctx, be, p.ID, p.Kind, p.MemoryMB, nil, nil)
	inv.mu.Lock()
	if err != nil {
		inv.pool.Remove(p.ID)
		inv.stemPause = time.Now().Add(5 * time.Second)
		placed := inv.pool.Drain(time.Now())
		inv.mu.Unlock()
		inv.dispatch(placed)
		if inv.base.Err() == nil {
			inv.log.Warn("start stem cell", "kind", p.Kind, "memoryMB", p.MemoryMB, "err", err)
		}
		return
	}
	if inv.closed {
		inv.mu.Unlock()
		inv.wg.Add(1)
		inv.destroy(s)
		return
	}
	inv.slots[p.ID] = s
	inv.pool.Created(p.ID)
	placed := inv.pool.Drain(time.Now())
	inv.mu.Unlock()
	inv.dispatch(placed)
}

// dispatch wakes the activations the pool took off its queue. Each job's
// channel was made, with room for one decision, when it was queued.
func (inv *Invoker) dispatch(placed []pool.Placement) {
	for _, p := range placed {
		p.Ticket.(*job).placed <- p.Decision
	}
}

// Close stops consuming, waits for running activations (until ctx ends;
// the rest are cancelled), destroys every sandbox and stops the stem
// cells.
func (inv *Invoker) Close(ctx context.Context) error {
	inv.mu.Lock()
	if inv.closed {
		inv.mu.Unlock()
		return nil
	}
	inv.closed = true
	inv.mu.Unlock()

	done := make(chan struct{})
	go func() {
		// Activations get until ctx to finish; then they are cancelled.
		select {
		case <-ctx.Done():
		case <-done:
		}
		inv.cancel()
	}()
	inv.waitQuiet(ctx)
	inv.cancel()
	inv.wg.Wait()
	close(done)

	inv.mu.Lock()
	all := make([]*slot, 0, len(inv.slots))
	for id, s := range inv.slots {
		all = append(all, s)
		inv.pool.Remove(id)
	}
	clear(inv.slots)
	inv.mu.Unlock()

	dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.destroy(dctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitQuiet waits until no activation is running in the pool or ctx ends.
func (inv *Invoker) waitQuiet(ctx context.Context) {
	for {
		inv.mu.Lock()
		busy := inv.pool.Queued() > 0
		for _, s := range inv.pool.All() {
			if s.Active > 0 {
				busy = true
				break
			}
		}
		inv.mu.Unlock()
		if !busy {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}
