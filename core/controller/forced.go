package controller

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/entity"
)

// Releaser is a Balancer that wants to hear when an activation ends, to
// free the invoker's capacity and judge its health (core/balancer).
type Releaser interface {
	// Release: the activation ended; systemError for a whisk error or a
	// completion the controller had to force.
	Release(activationID string, systemError bool)
	// Forget: the activation was never sent.
	Forget(activationID string)
}

// msgForced is the result of an activation whose invoker never answered
// (OpenWhisk's forced completion ack, reference/openwhisk.md §3.7).
const msgForced = "The activation was not completed by the invoker in time."

// DefaultCompletionGrace is how long past an action's timeout the
// controller waits for its completion when Config leaves it zero.
const DefaultCompletionGrace = time.Minute

// sweepEvery is how often the controller looks for activations past their
// deadline: often enough that a forced completion comes at most a quarter
// of the grace late.
func (c *Controller) sweepEvery() time.Duration {
	return min(10*time.Second, max(c.cfg.CompletionGrace/4, 50*time.Millisecond))
}

// force completes activations an invoker accepted and never answered: a
// whisk-error record goes to the store, a waiting blocking caller gets it,
// and the balancer counts a system error against the invoker. A real
// completion arriving later finds nothing in flight and is dropped.
func (c *Controller) force(gone []*pending, now time.Time) {
	if len(gone) == 0 {
		return
	}
	recs := make([]*entity.Activation, 0, len(gone))
	for _, p := range gone {
		c.throttle.release(p.namespace)
		m := p.msg
		if m == nil {
			continue // an entry without a message is only a slot
		}
		if r, ok := c.cfg.Balancer.(Releaser); ok {
			r.Release(m.ActivationID, true)
		}
		rec := forcedRecord(m, now)
		if !c.stored(m) {
			recs = append(recs, rec)
		}
		if p.done != nil {
			p.done <- &bus.Completion{ActivationID: m.ActivationID, TransactionID: m.TransactionID, SystemError: true, Activation: rec}
		}
	}
	c.log.Warn("forced completion of activations the invoker did not complete in time", "count", len(gone))
	if len(recs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.cfg.Store.PutActivations(ctx, recs); err != nil {
		c.log.Error("store forced activation records", "count", len(recs), "err", err)
	}
}

func forcedRecord(m *bus.ActivationMessage, now time.Time) *entity.Activation {
	ns := m.User.Namespace
	if ns == "" {
		ns = m.Namespace
	}
	path, _ := json.Marshal(m.Namespace + "/" + m.Name)
	return &entity.Activation{
		Namespace:    ns,
		Name:         m.Name,
		Version:      m.Version,
		Subject:      m.User.Subject,
		ActivationID: m.ActivationID,
		Start:        m.Start.UnixMilli(),
		End:          now.UnixMilli(),
		Response:     entity.NewResponse(entity.StatusWhiskError, entity.ErrorResult(msgForced)),
		StatusCode:   entity.StatusWhiskError,
		Logs:         []string{},
		Annotations: entity.KeyValues{
			{Key: "path", Value: path},
			{Key: "waitTime", Value: json.RawMessage(strconv.FormatInt(now.Sub(m.Start).Milliseconds(), 10))},
			{Key: "timeout", Value: json.RawMessage("false")},
		},
	}
}

// stored reports whether the invoker stored m's record after all (it died
// between storing and completing): the real record is kept.
func (c *Controller) stored(m *bus.ActivationMessage) bool {
	ns := m.User.Namespace
	if ns == "" {
		ns = m.Namespace
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.cfg.Store.Activation(ctx, ns, m.ActivationID)
	return err == nil
}
