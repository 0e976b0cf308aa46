package invoker

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/entity"
)

func newRecord(m *bus.ActivationMessage, a *entity.Action, ns string, code int, result json.RawMessage) *entity.Activation {
	rec := &entity.Activation{
		Namespace:    ns,
		Name:         m.Name,
		Subject:      m.User.Subject,
		ActivationID: m.ActivationID,
		Response:     entity.NewResponse(code, result),
		StatusCode:   code,
		Logs:         []string{},
	}
	if a != nil {
		rec.Name, rec.Version, rec.Publish = a.Name, a.Version, a.Publish
	}
	return rec
}

// annotations are the record's: path, kind, limits, waitTime, initTime
// (only when the sandbox was initialised for this activation) and timeout.
func annotations(a *entity.Action, kind string, wait time.Duration, cold bool, initTime time.Duration, timeout bool) entity.KeyValues {
	kv := make(entity.KeyValues, 0, 6)
	kv = append(kv,
		entity.KeyValue{Key: "path", Value: jsonString(a.Namespace + "/" + a.Name)},
		entity.KeyValue{Key: "kind", Value: jsonString(kind)},
		entity.KeyValue{Key: "limits", Value: limitsJSON(a.Limits)},
		entity.KeyValue{Key: "waitTime", Value: jsonInt(max(wait.Milliseconds(), 0))},
	)
	if cold {
		kv = append(kv, entity.KeyValue{Key: "initTime", Value: jsonInt(initTime.Milliseconds())})
	}
	tv := json.RawMessage("false")
	if timeout {
		tv = json.RawMessage("true")
	}
	return append(kv, entity.KeyValue{Key: "timeout", Value: tv})
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func jsonInt(n int64) json.RawMessage { return strconv.AppendInt(nil, n, 10) }

func limitsJSON(l entity.ActionLimits) json.RawMessage {
	b := make([]byte, 0, 64)
	b = append(b, `{"concurrency":`...)
	b = strconv.AppendInt(b, int64(l.Concurrency), 10)
	b = append(b, `,"logs":`...)
	b = strconv.AppendInt(b, int64(l.Logs), 10)
	b = append(b, `,"memory":`...)
	b = strconv.AppendInt(b, int64(l.Memory), 10)
	b = append(b, `,"timeout":`...)
	b = strconv.AppendInt(b, int64(l.Timeout), 10)
	return append(b, '}')
}

// fail completes an activation that never ran (no action, no backend, no
// sandbox) and writes its record.
func (inv *Invoker) fail(m *bus.ActivationMessage, a *entity.Action, code int, msg string) {
	ns := m.User.Namespace
	if ns == "" {
		ns = m.Namespace
	}
	rec := newRecord(m, a, ns, code, entity.ErrorResult(msg))
	now := time.Now()
	rec.Start, rec.End = now.UnixMilli(), now.UnixMilli()
	if a != nil {
		rec.Annotations = annotations(a, a.Exec.Kind, now.Sub(m.Start), false, 0, false)
	} else {
		rec.Annotations = entity.KeyValues{
			{Key: "path", Value: jsonString(m.Namespace + "/" + m.Name)},
			{Key: "kind", Value: jsonString("unknown")},
		}
	}
	inv.complete(m, rec)
	inv.observeFailure(m, a, ns, code)
	inv.cfg.Records.Write(rec)
}

// complete tells the controller the activation ended. A blocking caller
// gets the record without logs, which are collected afterwards.
func (inv *Invoker) complete(m *bus.ActivationMessage, rec *entity.Activation) {
	c := &bus.Completion{
		ActivationID:  m.ActivationID,
		TransactionID: m.TransactionID,
		Invoker:       inv.cfg.ID,
		SystemError:   rec.StatusCode == entity.StatusWhiskError,
	}
	if m.Blocking {
		cp := *rec
		cp.Logs = []string{}
		c.Activation = &cp
	}
	send := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(inv.base), 10*time.Second)
		defer cancel()
		if err := inv.cfg.Bus.SendCompletion(ctx, m.Controller, c); err != nil {
			inv.log.Warn("send completion", "activation", m.ActivationID, "controller", m.Controller, "err", err)
		}
	}
	if m.Blocking || !hold(inv.cfg.Records, m.ActivationID, send) {
		send()
	}
}
