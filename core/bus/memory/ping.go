package memory

import (
	"context"
	"fmt"

	"github.com/stokehq/stoke/core/bus"
)

// pingDepth is how many pings a slow ping consumer may fall behind before
// new ones are dropped for it.
const pingDepth = 64

// SendPing hands p to every current ping consumer. It never blocks: a
// consumer that is behind misses this ping and catches the next, a second
// later, rather than stalling the invoker's heartbeat.
func (b *Bus) SendPing(ctx context.Context, p *bus.Ping) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bus send: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	for ch := range b.pings {
		select {
		case ch <- p:
		default:
		}
	}
	return nil
}

// ConsumePings calls h for every ping sent while it runs.
func (b *Bus) ConsumePings(ctx context.Context, h func(*bus.Ping)) error {
	ch := make(chan *bus.Ping, pingDepth)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.pings[ch] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pings, ch)
		b.mu.Unlock()
	}()
	for {
		select {
		case p := <-ch:
			h(p)
		case <-ctx.Done():
			return ctx.Err()
		case <-b.done:
			return ErrClosed
		}
	}
}
