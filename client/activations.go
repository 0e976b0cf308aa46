package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/stokehq/stoke/core/entity"
)

// Activations are the calls on /namespaces/{ns}/activations.
type Activations struct{ c *Client }

// ActivationQuery filters an activation list. Zero fields are left to
// the server.
type ActivationQuery struct {
	Name  string // action name
	Since int64  // epoch ms: only activations that started at or after
	Upto  int64  // epoch ms: only activations that started at or before
	Skip  int
	Limit int
	Docs  bool // full records (with logs and result) rather than summaries
}

func (q ActivationQuery) values() url.Values {
	v := url.Values{}
	if q.Name != "" {
		v.Set("name", q.Name)
	}
	if q.Since > 0 {
		v.Set("since", strconv.FormatInt(q.Since, 10))
	}
	if q.Upto > 0 {
		v.Set("upto", strconv.FormatInt(q.Upto, 10))
	}
	if q.Skip > 0 {
		v.Set("skip", strconv.Itoa(q.Skip))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Docs {
		v.Set("docs", "true")
	}
	return v
}

func (a *Activations) path(id, suffix string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("activation id is empty")
	}
	return "/namespaces/" + url.PathEscape(a.c.namespace) + "/activations/" + url.PathEscape(id) + suffix, nil
}

// List returns activations, newest first.
func (a *Activations) List(ctx context.Context, q ActivationQuery) ([]entity.Activation, error) {
	var out []entity.Activation
	if err := a.c.call(ctx, http.MethodGet, "/namespaces/"+url.PathEscape(a.c.namespace)+"/activations", q.values(), nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Get returns an activation record with its logs and result.
func (a *Activations) Get(ctx context.Context, id string) (*entity.Activation, error) {
	p, err := a.path(id, "")
	if err != nil {
		return nil, err
	}
	var out entity.Activation
	if err := a.c.call(ctx, http.MethodGet, p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Logs returns an activation's log lines.
func (a *Activations) Logs(ctx context.Context, id string) ([]string, error) {
	p, err := a.path(id, "/logs")
	if err != nil {
		return nil, err
	}
	var out struct {
		Logs []string `json:"logs"`
	}
	if err := a.c.call(ctx, http.MethodGet, p, nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Logs, nil
}

// Result returns an activation's response: status, success and result.
func (a *Activations) Result(ctx context.Context, id string) (*entity.Response, error) {
	p, err := a.path(id, "/result")
	if err != nil {
		return nil, err
	}
	var out entity.Response
	if err := a.c.call(ctx, http.MethodGet, p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
