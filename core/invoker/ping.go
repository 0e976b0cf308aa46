package invoker

import (
	"context"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/entity"
)

// pingEvery is OpenWhisk's heartbeat period; controllers mark an invoker
// offline after some seconds without one.
const pingEvery = time.Second

// msgStale completes an activation that waited in the queue so long that
// the controller would give up on it before it could finish.
const msgStale = "The activation was not started in time: it waited too long in the invoker's queue."

// heartbeat sends a ping with the memory budget every second until ctx
// ends, then one saying the invoker is going away, so controllers stop
// sending to it at once rather than after the offline timeout.
func (inv *Invoker) heartbeat(ctx context.Context) {
	defer inv.wg.Done()
	send := func(enabled bool) {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pingEvery)
		defer cancel()
		p := &bus.Ping{Invoker: inv.cfg.ID, MemoryMB: inv.cfg.MemoryMB, Enabled: enabled, Time: time.Now()}
		if err := inv.cfg.Bus.SendPing(pctx, p); err != nil && ctx.Err() == nil {
			inv.log.Debug("send ping", "err", err)
		}
	}
	send(true)
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			send(false)
			return
		case <-t.C:
			inv.mu.Lock()
			closed := inv.closed
			inv.mu.Unlock()
			send(!closed)
		}
	}
}

// stale reports whether m cannot finish before its deadline even if it
// started now; such an activation is answered with a whisk error rather
// than run, so a backlog left by a crash is not replayed for nobody.
func stale(m *bus.ActivationMessage, a *entity.Action, now time.Time) bool {
	return !m.Deadline.IsZero() && now.Add(a.Limits.TimeoutDuration()).After(m.Deadline)
}
