package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/runtimes"
	"github.com/stokehq/stoke/core/store"
)

// DefaultConcurrentInvocations is the per-namespace in-flight limit when
// Config leaves it zero.
const DefaultConcurrentInvocations = 500

// Records finds activation records that are queued but not yet written,
// so a GET right after a blocking invoke does not 404.
type Records interface {
	Lookup(namespace, id string) (*entity.Activation, bool)
}

// Balancer picks the invoker for an activation.
type Balancer interface {
	Invoker(m *bus.ActivationMessage) (int, error)
}

// BalancerFunc adapts a function to Balancer.
type BalancerFunc func(*bus.ActivationMessage) (int, error)

func (f BalancerFunc) Invoker(m *bus.ActivationMessage) (int, error) { return f(m) }

// ErrNoInvokers is what a Balancer returns when no invoker can take the
// activation; the API answers 503.
var ErrNoInvokers = errors.New("no invokers available")

// Config configures a Controller. Bus, Store and Manifest are required.
type Config struct {
	ID       int // controller index: completions arrive on completed<ID>
	Bus      bus.Bus
	Store    store.Store
	Records  Records // optional
	Manifest *runtimes.Manifest
	Balancer Balancer // nil: every activation goes to invoker 0

	// OnActionStored runs after a successful PUT with the full action,
	// code included (the invoker precompiles wasm modules). Its errors are
	// logged, not returned: the action is stored either way.
	OnActionStored func(context.Context, *entity.Action) error

	// InvocationsPerMinute per namespace; 0 turns the limit off.
	InvocationsPerMinute int
	// ConcurrentInvocations in flight per namespace; 0 means
	// DefaultConcurrentInvocations, negative turns the limit off.
	ConcurrentInvocations int
	// CompletionGrace is how long past an action's timeout an activation
	// may stay without completion before the controller completes it as a
	// whisk error (default DefaultCompletionGrace).
	CompletionGrace time.Duration

	Logger *slog.Logger
}

// Controller serves the API. Create it with New.
type Controller struct {
	cfg Config
	log *slog.Logger

	throttle *throttle

	mu       sync.Mutex
	inflight map[string]*pending // by activation id
}

// pending is an activation the controller waits to hear about. done is
// nil for non-blocking calls and after a blocking caller gave up.
type pending struct {
	namespace string
	deadline  time.Time // when to stop expecting a completion
	done      chan *bus.Completion
	msg       *bus.ActivationMessage // for a forced completion
}

// New checks cfg and builds a Controller.
func New(cfg Config) (*Controller, error) {
	switch {
	case cfg.Bus == nil:
		return nil, errors.New("controller: config: Bus is required")
	case cfg.Store == nil:
		return nil, errors.New("controller: config: Store is required")
	case cfg.Manifest == nil:
		return nil, errors.New("controller: config: Manifest is required")
	case cfg.ID < 0:
		return nil, fmt.Errorf("controller: config: negative ID %d", cfg.ID)
	case cfg.InvocationsPerMinute < 0:
		return nil, fmt.Errorf("controller: config: negative InvocationsPerMinute %d", cfg.InvocationsPerMinute)
	}
	if cfg.ConcurrentInvocations == 0 {
		cfg.ConcurrentInvocations = DefaultConcurrentInvocations
	}
	if cfg.CompletionGrace <= 0 {
		cfg.CompletionGrace = DefaultCompletionGrace
	}
	if cfg.Balancer == nil {
		cfg.Balancer = BalancerFunc(func(*bus.ActivationMessage) (int, error) { return 0, nil })
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Controller{
		cfg:      cfg,
		log:      log.With("controller", cfg.ID),
		throttle: newThrottle(cfg.InvocationsPerMinute, cfg.ConcurrentInvocations),
		inflight: make(map[string]*pending),
	}, nil
}

// Run consumes completions for this controller until ctx ends, waking
// blocking callers and freeing concurrency slots. It also sweeps
// activations whose completion never came (a crashed invoker), so their
// slots do not leak.
func (c *Controller) Run(ctx context.Context) error {
	go func() {
		t := time.NewTicker(c.sweepEvery())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				c.sweep(now)
			}
		}
	}()
	err := c.cfg.Bus.ConsumeCompletions(ctx, c.cfg.ID, c.complete)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("controller: consume completions: %w", err)
	}
	return nil
}

// complete handles one completion; it must not block the consumer.
func (c *Controller) complete(m *bus.Completion) {
	if m == nil {
		return
	}
	c.mu.Lock()
	p, ok := c.inflight[m.ActivationID]
	if ok {
		delete(c.inflight, m.ActivationID)
	}
	c.mu.Unlock()
	if !ok {
		return // swept, or answered twice
	}
	c.throttle.release(p.namespace)
	if r, ok := c.cfg.Balancer.(Releaser); ok {
		r.Release(m.ActivationID, m.SystemError)
	}
	if p.done != nil {
		p.done <- m // buffered 1, and only ever one send
	}
}

func (c *Controller) sweep(now time.Time) {
	var gone []*pending
	c.mu.Lock()
	for id, p := range c.inflight {
		if now.After(p.deadline) {
			delete(c.inflight, id)
			gone = append(gone, p)
		}
	}
	c.mu.Unlock()
	c.force(gone, now)
}

// expect registers an activation before it is sent, so that a fast
// completion cannot overtake it.
func (c *Controller) expect(m *bus.ActivationMessage, namespace string, deadline time.Time, blocking bool) *pending {
	id := m.ActivationID
	p := &pending{namespace: namespace, deadline: deadline, msg: m}
	if blocking {
		p.done = make(chan *bus.Completion, 1)
	}
	c.mu.Lock()
	c.inflight[id] = p
	c.mu.Unlock()
	return p
}

// forget drops an activation that was never sent.
func (c *Controller) forget(id string) {
	c.mu.Lock()
	p, ok := c.inflight[id]
	delete(c.inflight, id)
	c.mu.Unlock()
	if ok {
		c.throttle.release(p.namespace)
	}
	if r, ok := c.cfg.Balancer.(Releaser); ok {
		r.Forget(id)
	}
}
