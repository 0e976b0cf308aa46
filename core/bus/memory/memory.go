// Package memory is the in-process bus of `stoke serve`: messages pass as
// pointers through buffered channels, with no encoding and no copies. Each
// consumer drops an activation or completion whose id it handled recently,
// as the kafka bus does, so both behave alike.
package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/stokehq/stoke/core/bus"
)

// ErrClosed is returned by sends after Close. It is bus.ErrClosed.
var ErrClosed = bus.ErrClosed

// Bus is an in-memory bus.Bus. The zero value is not usable; call New.
type Bus struct {
	depth int

	mu          sync.Mutex
	closed      bool
	done        chan struct{}
	activations map[int]chan *bus.ActivationMessage
	completions map[int]chan *bus.Completion
	pings       map[chan *bus.Ping]struct{}
}

var _ bus.Bus = (*Bus)(nil)

// New returns a bus whose topics each buffer depth messages before a send
// blocks. A blocked send is the back-pressure a full invoker gives.
func New(depth int) *Bus {
	if depth <= 0 {
		depth = 4096
	}
	return &Bus{
		depth:       depth,
		done:        make(chan struct{}),
		activations: make(map[int]chan *bus.ActivationMessage),
		completions: make(map[int]chan *bus.Completion),
		pings:       make(map[chan *bus.Ping]struct{}),
	}
}

func topic[T any](b *Bus, m map[int]chan T, n int) (chan T, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	ch, ok := m[n]
	if !ok {
		ch = make(chan T, b.depth)
		m[n] = ch
	}
	return ch, nil
}

func send[T any](ctx context.Context, b *Bus, m map[int]chan T, n int, v T) error {
	ch, err := topic(b, m, n)
	if err != nil {
		return err
	}
	select {
	case ch <- v:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bus send: %w", ctx.Err())
	case <-b.done:
		return ErrClosed
	}
}

func consume[T any](ctx context.Context, b *Bus, m map[int]chan T, n int, id func(T) string, h func(T)) error {
	ch, err := topic(b, m, n)
	if err != nil {
		return err
	}
	dedup := bus.NewDedup(0)
	for {
		select {
		case v := <-ch:
			if !dedup.Seen(id(v)) {
				h(v)
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-b.done:
			return ErrClosed
		}
	}
}

func (b *Bus) SendActivation(ctx context.Context, invoker int, m *bus.ActivationMessage) error {
	return send(ctx, b, b.activations, invoker, m)
}

func (b *Bus) ConsumeActivations(ctx context.Context, invoker int, h func(*bus.ActivationMessage)) error {
	return consume(ctx, b, b.activations, invoker, func(m *bus.ActivationMessage) string { return m.ActivationID }, h)
}

func (b *Bus) SendCompletion(ctx context.Context, controller int, c *bus.Completion) error {
	return send(ctx, b, b.completions, controller, c)
}

func (b *Bus) ConsumeCompletions(ctx context.Context, controller int, h func(*bus.Completion)) error {
	return consume(ctx, b, b.completions, controller, func(c *bus.Completion) string { return c.ActivationID }, h)
}

// Close stops every consumer and makes later sends fail.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
	return nil
}
