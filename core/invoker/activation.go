package invoker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/metrics"
	"github.com/stokehq/stoke/core/pool"
	"github.com/stokehq/stoke/core/runtimes"
	"github.com/stokehq/stoke/core/store"
	"github.com/stokehq/stoke/sdk"
)

// Messages of activations that never reached a sandbox
// (reference/openwhisk.md §1.6, §3.12).
const (
	msgNotFound     = "Action could not be found or may have been deleted."
	msgNotFetched   = "Action could not be fetched."
	msgIncompatible = "Action version is not compatible and cannot be invoked."
	msgProvision    = "Failed to provision resources to run the action."
	msgBadContent   = "The activation parameters must be a JSON object or array."
	msgLogsMissing  = "The action did not initialize or run as expected. Log data might be missing."
)

// job is one activation on its way through the invoker.
type job struct {
	msg     *bus.ActivationMessage
	act     *entity.Action
	rt      *runtimes.Runtime
	be      *backend
	kind    string // the pool kind (see Invoker.runtimeFor)
	ns      string // invoking namespace
	value   json.RawMessage
	initEnv map[string]string // init parameters, stringified
	placed  chan pool.Decision
	start   pool.Kind // how it was placed (warm, prewarm, cold), for metrics
}

// handle runs one activation to its end: every path ends in a completion
// and a record, and no panic escapes.
func (inv *Invoker) handle(m *bus.ActivationMessage) {
	defer inv.wg.Done()
	defer func() {
		if r := recover(); r != nil {
			inv.log.Error("activation panicked", "activation", m.ActivationID, "panic", r, "stack", string(debug.Stack()))
			inv.fail(m, nil, entity.StatusWhiskError, msgNotFetched)
		}
	}()
	if m.ActivationID == "" || m.Namespace == "" || m.Name == "" {
		inv.log.Warn("dropping malformed activation message", "activation", m.ActivationID, "namespace", m.Namespace, "name", m.Name)
		if m.ActivationID != "" {
			inv.fail(m, nil, entity.StatusApplication, msgNotFound)
		}
		return
	}
	metrics.Received(m.Start)
	j := &job{msg: m, ns: m.User.Namespace, value: bytes.TrimSpace(m.Content)}
	if j.ns == "" {
		j.ns = m.Namespace
	}
	// The shape is checked here; the syntax was checked by whoever put the
	// message on the bus (the controller, or the Kafka decoder), and the
	// /run envelope's encoding checks it once more. A full json.Valid here
	// would be a third pass over up to 1 MiB on every activation.
	if len(j.value) == 0 {
		j.value = json.RawMessage("{}")
	} else if j.value[0] != '{' && j.value[0] != '[' {
		inv.fail(m, nil, entity.StatusApplication, msgBadContent)
		return
	}

	act, err := inv.action(m)
	switch {
	case errors.Is(err, store.ErrNotFound):
		inv.fail(m, nil, entity.StatusApplication, msgNotFound)
		return
	case err != nil:
		inv.log.Warn("fetch action", "action", m.Namespace+"/"+m.Name, "err", err)
		inv.fail(m, nil, entity.StatusWhiskError, msgNotFetched)
		return
	}
	j.act = act
	if stale(m, act, time.Now()) {
		inv.fail(m, act, entity.StatusWhiskError, msgStale)
		return
	}
	var ok bool
	if j.rt, j.be, j.kind, ok = inv.runtimeFor(act); !ok {
		inv.fail(m, act, entity.StatusWhiskError, msgIncompatible)
		return
	}
	if err := j.splitInitParams(); err != nil {
		inv.fail(m, act, entity.StatusApplication, msgBadContent)
		return
	}
	inv.execute(j)
}

// action reads the action from the (cached) store. The message carries the
// revision the controller saw; if the copy here differs it is read once
// more, then the current one runs, as OpenWhisk retries without a
// revision.
func (inv *Invoker) action(m *bus.ActivationMessage) (*entity.Action, error) {
	act, err := inv.cfg.Store.Action(inv.base, m.Namespace, m.Name)
	if err == nil && m.Revision != 0 && act.Rev != m.Revision {
		inv.log.Debug("action revision differs from message; reading again", "action", act.FullName(), "have", act.Rev, "message", m.Revision)
		// A cached copy would answer the same again: drop it first. (In
		// one process the controller's writes already invalidated it; in
		// a cluster another process did the write.)
		if c, ok := inv.cfg.Store.(interface{ Invalidate(namespace, name string) }); ok {
			c.Invalidate(m.Namespace, m.Name)
		}
		act, err = inv.cfg.Store.Action(inv.base, m.Namespace, m.Name)
	}
	return act, err
}

// splitInitParams moves init parameters out of the /run value into the
// /init env. Most actions have none, and then the content passes through
// untouched.
func (j *job) splitInitParams() error {
	var names []string
	for _, p := range j.act.Parameters {
		if p.Init {
			names = append(names, p.Key)
		}
	}
	if len(names) == 0 || j.value[0] != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(j.value, &m); err != nil {
		return err
	}
	j.initEnv = make(map[string]string, len(names))
	for _, n := range names {
		v, ok := m[n]
		if !ok {
			v = j.act.Parameters.Get(n)
		}
		j.initEnv[n] = stringify(v)
		delete(m, n)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	j.value = b
	return nil
}

// stringify renders a parameter for the /init env as OpenWhisk does:
// strings as is, null as "", anything else as compact JSON.
func stringify(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		return ""
	case v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	var b bytes.Buffer
	if json.Compact(&b, v) == nil {
		return b.String()
	}
	return string(v)
}

// execute places the job on a sandbox and runs it there.
func (inv *Invoker) execute(j *job) {
	a := j.act
	mem := a.Limits.Memory
	if mem <= 0 {
		mem = entity.DefaultMemory
	}
	req := pool.Request{
		Key:      pool.Key{Namespace: j.ns, Action: a.FullName(), Version: a.Version, Digest: a.Exec.Digest},
		Kind:     j.kind,
		MemoryMB: mem,
		Max:      a.Limits.Concurrency,
		CanPause: j.be.caps.Pause,
		Ticket:   j,
	}
	for attempt := 0; ; attempt++ {
		d, s, ok := inv.acquire(j, req)
		if !ok {
			return
		}
		if d.Kind == pool.Prewarm {
			// Start the replacement stem cell once this activation has
			// run: started now, its container and interpreter would take
			// the CPU from the very /init and /run the hit was meant to
			// speed up (~30 ms against ~10 ms on 2 cores).
			defer inv.replenish()
		}
		if d.Kind == pool.Cold {
			var err error
			s, err = inv.create(inv.base, j.be, d.Sandbox, a.Exec.Kind, mem, &req.Key, stringAnnotations(a.Annotations))
			if err != nil {
				inv.release(d.Sandbox, false)
				code, msg := entity.StatusWhiskError, msgProvision
				if errors.Is(err, sdk.ErrInvalid) {
					code, msg = entity.StatusDeveloperError, err.Error()
				}
				inv.log.Warn("create sandbox", "action", a.FullName(), "err", err)
				inv.fail(j.msg, a, code, msg)
				return
			}
			inv.mu.Lock()
			inv.slots[d.Sandbox] = s
			inv.pool.Created(d.Sandbox)
			inv.mu.Unlock()
		}
		if d.Resume {
			if err := s.resume(inv.base); err != nil {
				// OpenWhisk reschedules the job when a resume fails.
				inv.log.Warn("resume failed; destroying sandbox", "err", err)
				inv.release(d.Sandbox, false)
				inv.wg.Add(1)
				go inv.destroy(s)
				if attempt < 2 {
					continue
				}
				inv.fail(j.msg, a, entity.StatusWhiskError, msgProvision)
				return
			}
			inv.mu.Lock()
			inv.pool.Resumed(d.Sandbox)
			inv.mu.Unlock()
		}
		j.start = d.Kind
		if inv.activate(j, d.Sandbox, s, d.Kind == pool.Warm, attempt >= 2) {
			continue // the sandbox was shutting down: run on another
		}
		return
	}
}

// acquire asks the pool for a sandbox, waiting in the queue if it must.
// ok is false when the job has already been completed as failed.
func (inv *Invoker) acquire(j *job, req pool.Request) (pool.Decision, *slot, bool) {
	inv.mu.Lock()
	if inv.closed {
		inv.mu.Unlock()
		inv.fail(j.msg, j.act, entity.StatusWhiskError, msgProvision)
		return pool.Decision{}, nil, false
	}
	d := inv.pool.Acquire(req, time.Now())
	if d.Kind == pool.Queue {
		j.placed = make(chan pool.Decision, 1)
		inv.mu.Unlock()
		select {
		case d = <-j.placed:
		case <-inv.base.Done():
			inv.mu.Lock()
			cancelled := inv.pool.Cancel(j)
			inv.mu.Unlock()
			if cancelled {
				inv.fail(j.msg, j.act, entity.StatusWhiskError, msgProvision)
				return d, nil, false
			}
			d = <-j.placed
		}
		inv.mu.Lock()
	}
	s, evicted := inv.claim(d)
	inv.mu.Unlock()
	for _, e := range evicted {
		inv.wg.Add(1)
		go inv.destroy(e)
	}
	switch d.Kind {
	case pool.Reject:
		inv.fail(j.msg, j.act, entity.StatusWhiskError, msgProvision)
		return d, nil, false
	case pool.Warm, pool.Prewarm:
		if s == nil { // cannot happen: slots exist before the pool can hand them out
			inv.release(d.Sandbox, false)
			inv.fail(j.msg, j.act, entity.StatusWhiskError, msgProvision)
			return d, nil, false
		}
	}
	return d, s, true
}

// claim looks up the decision's slot and takes the evicted ones out of the
// slot table. Call with inv.mu held.
func (inv *Invoker) claim(d pool.Decision) (*slot, []*slot) {
	var evicted []*slot
	for _, id := range d.Evict {
		if s := inv.slots[id]; s != nil {
			delete(inv.slots, id)
			evicted = append(evicted, s)
		}
	}
	return inv.slots[d.Sandbox], evicted
}

// release ends the activation's hold on a sandbox. With keep false the
// sandbox leaves the pool and the slot table; the caller destroys it.
func (inv *Invoker) release(id pool.ID, keep bool) {
	now := time.Now()
	inv.mu.Lock()
	inv.pool.Release(id, keep, now)
	if !keep {
		delete(inv.slots, id)
	}
	placed := inv.pool.Drain(now)
	inv.mu.Unlock()
	inv.dispatch(placed)
}

// activate runs /init (unless warm) and /run, completes the activation,
// then collects its logs and writes its record.
//
// It returns true, having completed nothing, when the sandbox answered 503
// ("shutting down", reference/openwhisk.md §1.1) and this is not the last
// attempt: the sandbox is destroyed and the caller places the job again.
func (inv *Invoker) activate(j *job, id pool.ID, s *slot, warm, last bool) (again bool) {
	a, m := j.act, j.msg
	ctx := inv.base
	timeout := a.Limits.TimeoutDuration()
	if timeout <= 0 {
		timeout = entity.DefaultTimeout * time.Millisecond
	}
	timeoutMS := int(timeout / time.Millisecond)

	var o outcome
	var initStart time.Time
	var initTime time.Duration
	ran := true
	if !warm {
		initStart = time.Now()
		code, err := inv.cfg.Store.ActionCode(ctx, a.Namespace, a.Name, a.Rev)
		if err != nil {
			inv.release(id, false)
			inv.wg.Add(1)
			go inv.destroy(s)
			if errors.Is(err, store.ErrNotFound) {
				inv.fail(m, a, entity.StatusApplication, msgNotFound)
			} else {
				inv.fail(m, a, entity.StatusWhiskError, msgNotFetched)
			}
			return false
		}
		body, err := sdk.InitBody(&sdk.Init{Name: a.Name, Main: mainOf(a), Binary: a.Exec.Binary, Code: code, Env: j.initEnvWith(initStart.Add(timeout))})
		if err != nil {
			o, ran = failed(entity.StatusWhiskError, msgNotFetched), false
		} else {
			ictx, cancel := context.WithTimeout(ctx, timeout)
			rep, err := s.conn.Init(ictx, body)
			o, ran = initOutcome(ictx, rep, err, timeoutMS)
			cancel()
		}
		initTime = time.Since(initStart)
		if ran {
			inv.mu.Lock()
			inv.pool.Initialized(id)
			inv.mu.Unlock()
		}
	}
	runStart := time.Now()
	if ran {
		body, err := sdk.RunBody(&sdk.Run{
			Value:         j.value,
			Namespace:     j.ns,
			ActionName:    a.FullName(),
			ActionVersion: a.Version,
			ActivationID:  m.ActivationID,
			TransactionID: m.TransactionID,
			Deadline:      strconv.FormatInt(runStart.Add(timeout).UnixMilli(), 10),
			APIKey:        j.apiKey(),
		})
		if err != nil {
			o = failed(entity.StatusApplication, msgBadContent)
			o.keep, o.silent = true, true
		} else {
			rctx, cancel := context.WithTimeout(ctx, timeout)
			rep, err := s.conn.Run(rctx, body)
			o = runOutcome(rctx, rep, err, timeoutMS)
			cancel()
		}
	}
	end := time.Now()
	if o.reschedule && !last {
		inv.log.Info("sandbox shutting down; rescheduling", "activation", m.ActivationID)
		inv.release(id, false)
		inv.wg.Add(1)
		go inv.destroy(s)
		return true
	}

	start := runStart
	if !warm {
		start = initStart
	}
	rec := newRecord(m, a, j.ns, o.code, o.result)
	rec.Start, rec.End = start.UnixMilli(), end.UnixMilli()
	rec.Duration = rec.End - rec.Start
	rec.Annotations = annotations(a, a.Exec.Kind, start.Sub(m.Start), !warm, initTime, o.timeout)

	// Take our place in the sandbox's log order before anyone else can run
	// there, then free the sandbox before answering: a caller that invokes
	// again as soon as it has the result must find it warm.
	seq := 0
	if s.logs != nil && !o.silent {
		seq = s.logs.reserve()
	}
	inv.release(id, o.keep)
	if o.lost {
		// The sandbox died under the call. Its logs may end with the
		// backend's OOM line, which OpenWhisk reports as the result; the
		// sandbox is lost anyway, so waiting for them costs nothing.
		rec.Logs = inv.collect(j, s, seq, o)
		if oomKilled(rec.Logs) {
			rec.Response = entity.NewResponse(entity.StatusDeveloperError, entity.ErrorResult(sdk.OOMLine))
		}
		inv.complete(m, rec)
	} else {
		inv.complete(m, rec)
		rec.Logs = inv.collect(j, s, seq, o)
	}
	inv.observe(j, o.code, start.Sub(m.Start), initTime, end.Sub(runStart), ran)

	if !o.keep {
		inv.wg.Add(1)
		go inv.destroy(s)
	}
	inv.cfg.Records.Write(rec)
	return false
}

// collect returns the activation's formatted logs. It waits for them as
// OpenWhisk does: while lines keep coming (LogWait without one ends it),
// at most max(log limit in MB, 5) × 2 s in all.
func (inv *Invoker) collect(j *job, s *slot, seq int, o outcome) []string {
	limit := j.act.Limits.Logs << 20
	if s.logs == nil || o.silent {
		return []string{}
	}
	idle := inv.cfg.LogWait
	if !j.rt.Sentinels {
		idle = 0
	} else if o.code == entity.StatusDeveloperError {
		// The proxy may never write the sentinels after a crash or a
		// timeout; OpenWhisk does not wait for them then.
		idle = min(idle, 200*time.Millisecond)
	}
	total := time.Duration(max(j.act.Limits.Logs, 5)) * 2 * time.Second
	lines, complete := s.logs.take(seq, idle, total, max(limit, 0))
	if limit <= 0 {
		return []string{}
	}
	extra := ""
	if !complete && j.rt.Sentinels {
		extra = msgLogsMissing
	}
	return formatLogs(lines, limit, extra)
}

func mainOf(a *entity.Action) string {
	if a.Exec.Main != "" {
		return a.Exec.Main
	}
	return "main"
}

// apiKey is sent unless the action opts out with provide-api-key false.
func (j *job) apiKey() string {
	if j.msg.User.UUID == "" || string(bytes.TrimSpace(j.act.Annotations.Get("provide-api-key"))) == "false" {
		return ""
	}
	return j.msg.User.AuthKey()
}

// initEnvWith is the /init env: the init parameters and the context of
// the first activation as __OW_ variables.
func (j *job) initEnvWith(deadline time.Time) map[string]string {
	env := make(map[string]string, len(j.initEnv)+7)
	env["__OW_NAMESPACE"] = j.ns
	env["__OW_ACTION_NAME"] = j.act.FullName()
	env["__OW_ACTION_VERSION"] = j.act.Version
	env["__OW_ACTIVATION_ID"] = j.msg.ActivationID
	env["__OW_TRANSACTION_ID"] = j.msg.TransactionID
	env["__OW_DEADLINE"] = strconv.FormatInt(deadline.UnixMilli(), 10)
	if k := j.apiKey(); k != "" {
		env["__OW_API_KEY"] = k
	}
	for k, v := range j.initEnv {
		env[k] = v
	}
	return env
}

// stringAnnotations are the action's string-valued annotations, which
// backends may read (for example "wasm-mode").
func stringAnnotations(kv entity.KeyValues) map[string]string {
	var out map[string]string
	for _, p := range kv {
		v := bytes.TrimSpace(p.Value)
		if len(v) == 0 || v[0] != '"' {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			continue
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[p.Key] = s
	}
	return out
}

// oomKilled reports whether a sandbox's last log lines say the backend saw
// it killed for memory.
func oomKilled(logs []string) bool {
	for i := len(logs) - 1; i >= 0 && i >= len(logs)-3; i-- {
		if strings.HasSuffix(logs[i], "stderr: "+sdk.OOMLine) {
			return true
		}
	}
	return false
}
