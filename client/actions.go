package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stokehq/stoke/core/entity"
)

// Actions are the calls on /namespaces/{ns}/actions.
type Actions struct{ c *Client }

// actionPath builds the URL path of an action. name is "name", "pkg/name",
// "/ns/name" or "/ns/pkg/name", as OpenWhisk's CLI accepts.
func (c *Client) actionPath(name string) (string, error) {
	ns, rest := c.namespace, name
	if strings.HasPrefix(name, "/") {
		parts := strings.SplitN(name[1:], "/", 2)
		if len(parts) != 2 {
			return "", fmt.Errorf("action name %q: a name starting with / must be /namespace/name", name)
		}
		ns, rest = parts[0], parts[1]
	}
	segs := strings.Split(rest, "/")
	if ns == "" || len(segs) > 2 {
		return "", fmt.Errorf("action name %q: want name, package/name or /namespace/[package/]name", name)
	}
	var b strings.Builder
	b.WriteString("/namespaces/")
	b.WriteString(url.PathEscape(ns))
	b.WriteString("/actions")
	for _, s := range segs {
		if s == "" {
			return "", fmt.Errorf("action name %q has an empty part", name)
		}
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String(), nil
}

// List returns actions in the namespace, at most limit (0: the server's
// default) after skipping skip.
func (a *Actions) List(ctx context.Context, skip, limit int) ([]entity.Action, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if skip > 0 {
		q.Set("skip", strconv.Itoa(skip))
	}
	var out []entity.Action
	if err := a.c.call(ctx, http.MethodGet, "/namespaces/"+url.PathEscape(a.c.namespace)+"/actions", q, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Get returns an action, with its code when withCode is true.
func (a *Actions) Get(ctx context.Context, name string, withCode bool) (*entity.Action, error) {
	p, err := a.c.actionPath(name)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if !withCode {
		q = url.Values{"code": {"false"}}
	}
	var out entity.Action
	if err := a.c.call(ctx, http.MethodGet, p, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Put creates the action named action.Name, or with overwrite replaces
// it (the server merges what the body leaves out with what is stored).
// Zero limits, an empty version and an empty exec are left out of the
// body so that the server applies its defaults or keeps what it has.
func (a *Actions) Put(ctx context.Context, action *entity.Action, overwrite bool) (*entity.Action, error) {
	if action == nil || action.Name == "" {
		return nil, errors.New("put action: no name")
	}
	name := action.Name
	if action.Namespace != "" && !strings.HasPrefix(name, "/") {
		name = "/" + action.Namespace + "/" + name
	}
	p, err := a.c.actionPath(name)
	if err != nil {
		return nil, err
	}
	var out entity.Action
	q := url.Values{"overwrite": {strconv.FormatBool(overwrite)}}
	if err := a.c.call(ctx, http.MethodPut, p, q, newActionPut(action), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// actionPut is OpenWhisk's ActionPut body: every field optional.
type actionPut struct {
	Version     string           `json:"version,omitempty"`
	Publish     bool             `json:"publish,omitempty"`
	Exec        *entity.Exec     `json:"exec,omitempty"`
	Parameters  entity.KeyValues `json:"parameters,omitempty"`
	Annotations entity.KeyValues `json:"annotations,omitempty"`
	Limits      *putLimits       `json:"limits,omitempty"`
}

type putLimits struct {
	Timeout     int `json:"timeout,omitempty"`
	Memory      int `json:"memory,omitempty"`
	Logs        int `json:"logs,omitempty"`
	Concurrency int `json:"concurrency,omitempty"`
}

func newActionPut(a *entity.Action) *actionPut {
	p := &actionPut{Version: a.Version, Publish: a.Publish, Parameters: a.Parameters, Annotations: a.Annotations}
	if a.Exec != (entity.Exec{}) {
		e := a.Exec
		e.Digest = "" // the server computes it
		p.Exec = &e
	}
	if l := a.Limits; l != (entity.ActionLimits{}) {
		p.Limits = &putLimits{Timeout: l.Timeout, Memory: l.Memory, Logs: l.Logs, Concurrency: l.Concurrency}
	}
	return p
}

// Delete removes an action.
func (a *Actions) Delete(ctx context.Context, name string) error {
	p, err := a.c.actionPath(name)
	if err != nil {
		return err
	}
	return a.c.call(ctx, http.MethodDelete, p, nil, nil, nil)
}

// InvokeOptions choose how Invoke waits.
type InvokeOptions struct {
	Blocking bool          // wait for the activation to finish
	Result   bool          // return only the result (implies nothing without Blocking)
	Timeout  time.Duration // how long a blocking call waits at most (0: the server's 60 s)
}

// InvokeResult is what an invoke returned.
type InvokeResult struct {
	ActivationID string
	// Status is the HTTP status: 200 success, 202 accepted (non-blocking,
	// or blocking and not done in time), 502 the action failed, 500 the
	// platform failed.
	Status int
	// Activation is the record, for a finished blocking call without
	// Result.
	Activation *entity.Activation
	// Result is the action's result, for a finished blocking call.
	Result json.RawMessage
}

// Done reports whether the activation finished within the call.
func (r *InvokeResult) Done() bool { return r.Status != http.StatusAccepted }

// Success reports whether the activation finished and succeeded.
func (r *InvokeResult) Success() bool { return r.Status == http.StatusOK }

// activationIDHeader is on every invoke response that created an
// activation, failed or not.
const activationIDHeader = "X-Openwhisk-Activation-Id"

// Invoke runs an action with params (a JSON object or array; nil for
// none). A blocking call whose action failed (HTTP 502, or 500 for a
// platform failure) returns its outcome with Status set, not an error;
// errors are for calls that made no activation.
func (a *Actions) Invoke(ctx context.Context, name string, params json.RawMessage, o InvokeOptions) (*InvokeResult, error) {
	p, err := a.c.actionPath(name)
	if err != nil {
		return nil, err
	}
	q := make(url.Values, 3)
	q.Set("blocking", strconv.FormatBool(o.Blocking))
	if o.Result {
		q.Set("result", "true")
	}
	if o.Timeout > 0 {
		q.Set("timeout", strconv.FormatInt(o.Timeout.Milliseconds(), 10))
	}
	if params == nil {
		params = json.RawMessage("{}")
	}
	resp, data, err := a.c.do(ctx, http.MethodPost, p, q, params)
	if err != nil {
		return nil, err
	}
	r := &InvokeResult{Status: resp.StatusCode, ActivationID: resp.Header.Get(activationIDHeader)}
	switch {
	case resp.StatusCode == http.StatusAccepted:
		var acc struct {
			ActivationID string `json:"activationId"`
		}
		if err := json.Unmarshal(data, &acc); err != nil {
			return nil, fmt.Errorf("invoke %s: decode response: %w", name, err)
		}
		if acc.ActivationID != "" {
			r.ActivationID = acc.ActivationID
		}
		return r, nil
	case resp.StatusCode == http.StatusOK,
		o.Blocking && isActivationFailure(resp.StatusCode) && isOutcome(o.Result, r.ActivationID, data):
		if o.Result {
			r.Result = data
			return r, nil
		}
		var act entity.Activation
		if err := json.Unmarshal(data, &act); err != nil {
			return nil, fmt.Errorf("invoke %s: decode activation: %w", name, err)
		}
		r.Activation = &act
		r.Result = act.Response.Result
		if act.ActivationID != "" {
			r.ActivationID = act.ActivationID
		}
		return r, nil
	default:
		return nil, newAPIError(resp, data)
	}
}

func isActivationFailure(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusInternalServerError
}

// isOutcome tells a failed activation's outcome from an error body. With
// result=true the body is the bare result, so only the header can tell.
func isOutcome(result bool, headerID string, data []byte) bool {
	if result {
		return headerID != ""
	}
	return hasActivationID(data)
}

// hasActivationID tells an activation record from an error body when the
// server sent no activation id header.
func hasActivationID(data []byte) bool {
	var v struct {
		ActivationID string `json:"activationId"`
	}
	return json.Unmarshal(data, &v) == nil && v.ActivationID != ""
}
