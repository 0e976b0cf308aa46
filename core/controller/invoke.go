package controller

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/metrics"
)

// activationIDHeader is on every invoke response (OpenWhisk Entities.scala).
const activationIDHeader = "x-openwhisk-activation-id"

// newActivationID is 32 hex characters from crypto/rand.
func newActivationID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// invoke is the critical path: it reads only cached entities, writes
// nothing to the store, and sends one bus message.
func (c *Controller) invoke(q *request, name string) {
	query := q.r.URL.Query()
	blocking, err := boolParam(query, "blocking", false)
	if err != nil {
		q.fail(c, err)
		return
	}
	resultOnly, err := boolParam(query, "result", false)
	if err != nil {
		q.fail(c, err)
		return
	}
	wait := time.Duration(entity.MaxBlockingWait) * time.Millisecond
	if s := query.Get("timeout"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > entity.MaxBlockingWait {
			q.fail(c, errorf(http.StatusBadRequest, msgTimeoutOutOfRange, entity.MaxBlockingWait))
			return
		}
		wait = time.Duration(n) * time.Millisecond
	}
	body, err := readBody(q.w, q.r, maxInvokeBody)
	if err != nil {
		q.fail(c, err)
		return
	}
	payload, err := checkPayload(body)
	if err != nil {
		q.fail(c, err)
		return
	}

	ctx := q.r.Context()
	a, err := c.cfg.Store.Action(ctx, q.ns, name)
	if err != nil {
		q.fail(c, storeError("invoke: get action", err))
		return
	}
	content, err := mergeParams(a, payload)
	if err != nil {
		q.fail(c, err)
		return
	}
	if len(content) > entity.MaxParameterBytes {
		q.fail(c, errorf(http.StatusRequestEntityTooLarge, "%v",
			&entity.SizeError{Field: "Request", Size: len(content), Allowed: entity.MaxParameterBytes}))
		return
	}

	now := time.Now()
	if err := c.throttle.acquire(q.id.Namespace, now); err != nil {
		metrics.Throttled(q.id.Namespace)
		q.fail(c, err)
		return
	}
	id := newActivationID()
	msg := &bus.ActivationMessage{
		ActivationID:  id,
		TransactionID: tid(q.r),
		Start:         now,
		Namespace:     a.Namespace,
		Name:          a.Name,
		Version:       a.Version,
		Revision:      a.Rev,
		User:          *q.id,
		Blocking:      blocking,
		Content:       content,
		Controller:    c.cfg.ID,
		MemoryMB:      a.Limits.Memory,
		Deadline:      now.Add(a.Limits.TimeoutDuration() + c.cfg.CompletionGrace),
	}
	invoker, err := c.cfg.Balancer.Invoker(msg)
	if err != nil {
		c.throttle.release(q.id.Namespace)
		if errors.Is(err, ErrNoInvokers) {
			q.fail(c, errorf(http.StatusServiceUnavailable, msgNoInvokers))
			return
		}
		c.log.Error("balancer", "tid", msg.TransactionID, "err", err)
		q.fail(c, errorf(http.StatusServiceUnavailable, msgOverloaded))
		return
	}
	p := c.expect(msg, q.id.Namespace, msg.Deadline, blocking)
	q.w.Header().Set(activationIDHeader, id)
	if err := c.cfg.Bus.SendActivation(ctx, invoker, msg); err != nil {
		c.forget(id)
		if errors.Is(err, bus.ErrTooLarge) {
			q.fail(c, errorf(http.StatusRequestEntityTooLarge, "The request content was too large for the bus: %v", err))
			return
		}
		c.log.Error("send activation", "tid", msg.TransactionID, "invoker", invoker, "err", err)
		q.fail(c, errorf(http.StatusServiceUnavailable, msgOverloaded))
		return
	}
	metrics.Accepted(q.id.Namespace)
	if !blocking {
		writeJSON(q.w, http.StatusAccepted, activationIDBody{id})
		return
	}

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case m := <-p.done:
		c.answer(q, m, resultOnly)
	case <-timer.C:
		// The activation goes on; the caller polls for the record.
		writeJSON(q.w, http.StatusAccepted, activationIDBody{id})
	case <-ctx.Done():
		// The client left; nobody to answer.
	}
}

type activationIDBody struct {
	ActivationID string `json:"activationId"`
}

// answer writes a blocking invoke's response from its completion, with
// OpenWhisk's status mapping: application and developer errors are 502,
// whisk errors 500.
func (c *Controller) answer(q *request, m *bus.Completion, resultOnly bool) {
	rec := m.Activation
	if rec == nil {
		if m.SystemError {
			q.fail(c, errorf(http.StatusInternalServerError, "The activation failed with a system error."))
			return
		}
		// A completion without a record: the result lives in the store.
		writeJSON(q.w, http.StatusAccepted, activationIDBody{m.ActivationID})
		return
	}
	status := http.StatusOK
	switch rec.Response.StatusCode {
	case entity.StatusSuccess:
	case entity.StatusApplication, entity.StatusDeveloperError:
		status = http.StatusBadGateway
	default:
		status = http.StatusInternalServerError
	}
	if !resultOnly {
		writeJSON(q.w, status, rec)
		return
	}
	result := rec.Response.Result
	if len(result) == 0 {
		result = json.RawMessage("{}")
	}
	writeJSON(q.w, status, result)
}

// checkPayload accepts an empty body (no arguments), a JSON object or a
// JSON array, and nothing else.
func checkPayload(body []byte) ([]byte, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != '{' && b[0] != '[' {
		return nil, malformed("the invoke payload must be a JSON object or array")
	}
	if !json.Valid(b) {
		// Decode again only to say where it is broken.
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, jsonError(err)
		}
		return nil, malformed("invalid JSON")
	}
	return b, nil
}

// mergeParams lays the payload over the action's default parameters. An
// array payload replaces them (OpenWhisk PrimitiveActions). With no
// defaults the payload passes through unparsed: the common warm case.
func mergeParams(a *entity.Action, payload []byte) (json.RawMessage, error) {
	if len(a.Parameters) == 0 || (len(payload) > 0 && payload[0] == '[') {
		if len(payload) == 0 {
			return json.RawMessage("{}"), nil
		}
		return payload, nil
	}
	args := map[string]json.RawMessage{}
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &args); err != nil {
			return nil, jsonError(err)
		}
	}
	final := isTrue(a.Annotations.Get("final"))
	out := make(map[string]json.RawMessage, len(args)+len(a.Parameters))
	for _, p := range a.Parameters {
		if _, over := args[p.Key]; over && final {
			return nil, errorf(http.StatusBadRequest, msgReservedParams)
		}
		v := p.Value
		if len(v) == 0 {
			v = json.RawMessage("null")
		}
		out[p.Key] = v
	}
	for k, v := range args {
		out[k] = v
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("merge parameters: %w", err)
	}
	return b, nil
}

func isTrue(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "true" }
