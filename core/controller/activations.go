package controller

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
)

func (c *Controller) routeActivations(q *request, segs []string) {
	if !methodIs(q.w, q.r, c, http.MethodGet, http.MethodHead) {
		return
	}
	switch {
	case len(segs) == 0:
		c.listActivations(q)
	case len(segs) == 1:
		c.getActivation(q, segs[0], "")
	case len(segs) == 2 && (segs[1] == "logs" || segs[1] == "result"):
		c.getActivation(q, segs[0], segs[1])
	default:
		q.fail(c, errorf(http.StatusNotFound, msgNotFound))
	}
}

// activationSummary is OpenWhisk's WhiskActivation.summaryAsJson, the list
// entry without docs=true: no response, no logs.
type activationSummary struct {
	Namespace    string           `json:"namespace"`
	Name         string           `json:"name"`
	Version      string           `json:"version"`
	Subject      string           `json:"subject"`
	ActivationID string           `json:"activationId"`
	Start        int64            `json:"start"`
	End          int64            `json:"end"`
	Duration     int64            `json:"duration"`
	StatusCode   int              `json:"statusCode"`
	Annotations  entity.KeyValues `json:"annotations"`
	Publish      bool             `json:"publish"`
}

func (c *Controller) listActivations(q *request) {
	query := q.r.URL.Query()
	docs, err := boolParam(query, "docs", false)
	if err != nil {
		q.fail(c, err)
		return
	}
	count, err := boolParam(query, "count", false)
	if err != nil {
		q.fail(c, err)
		return
	}
	if docs && count {
		q.fail(c, errorf(http.StatusBadRequest, msgDocsWithCount))
		return
	}
	aq := store.ActivationQuery{Namespace: q.ns}
	if name := query.Get("name"); name != "" {
		if err := entity.ValidateName("name", name); err != nil {
			q.fail(c, errorf(http.StatusBadRequest, "%v", err))
			return
		}
		aq.Name = name
	}
	if aq.Since, err = int64Param(query, "since"); err != nil {
		q.fail(c, err)
		return
	}
	if aq.Upto, err = int64Param(query, "upto"); err != nil {
		q.fail(c, err)
		return
	}
	if aq.Skip, aq.Limit, err = listParams(query, "activations", entity.DefaultListLimit, entity.MaxListLimit); err != nil {
		q.fail(c, err)
		return
	}
	ctx := q.r.Context()
	if count {
		aq.Skip, aq.Limit = 0, 0
		n, err := c.cfg.Store.CountActivations(ctx, aq)
		if err != nil {
			q.fail(c, fmt.Errorf("count activations: %w", err))
			return
		}
		writeJSON(q.w, http.StatusOK, map[string]int{"activations": n})
		return
	}
	acts, err := c.cfg.Store.ListActivations(ctx, aq)
	if err != nil {
		q.fail(c, fmt.Errorf("list activations: %w", err))
		return
	}
	if docs {
		writeJSON(q.w, http.StatusOK, nonNil(acts))
		return
	}
	out := make([]activationSummary, len(acts))
	for i, a := range acts {
		out[i] = activationSummary{
			Namespace: a.Namespace, Name: a.Name, Version: a.Version, Subject: a.Subject,
			ActivationID: a.ActivationID, Start: a.Start, End: a.End, Duration: a.Duration,
			StatusCode: a.Response.StatusCode, Annotations: a.Annotations, Publish: a.Publish,
		}
	}
	writeJSON(q.w, http.StatusOK, out)
}

func nonNil(acts []*entity.Activation) []*entity.Activation {
	if acts == nil {
		return []*entity.Activation{}
	}
	return acts
}

// getActivation answers a record, its logs or its result. Records still
// queued for writing are found too, so a GET right after an invoke works.
func (c *Controller) getActivation(q *request, id, part string) {
	if !validActivationID(id) {
		q.fail(c, errorf(http.StatusBadRequest, "The activation id is not valid: %q (expected 32 hex characters).", id))
		return
	}
	rec, err := c.activation(q, id)
	if err != nil {
		q.fail(c, err)
		return
	}
	switch part {
	case "logs":
		logs := rec.Logs
		if logs == nil {
			logs = []string{}
		}
		writeJSON(q.w, http.StatusOK, map[string][]string{"logs": logs})
	case "result":
		writeJSON(q.w, http.StatusOK, rec.Response)
	default:
		writeJSON(q.w, http.StatusOK, rec)
	}
}

func (c *Controller) activation(q *request, id string) (*entity.Activation, error) {
	if c.cfg.Records != nil {
		if rec, ok := c.cfg.Records.Lookup(q.ns, id); ok {
			return rec, nil
		}
	}
	rec, err := c.cfg.Store.Activation(q.r.Context(), q.ns, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, msgNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get activation: %w", err)
	}
	return rec, nil
}

func validActivationID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
