package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/runtimes"
	"github.com/stokehq/stoke/core/store"
)

func (c *Controller) routeActions(q *request, segs []string) {
	switch len(segs) {
	case 0:
		if methodIs(q.w, q.r, c, http.MethodGet) {
			c.listActions(q)
		}
		return
	case 1:
	default:
		// Packages would need their own entities and bindings; refuse
		// clearly rather than pretend.
		q.fail(c, errorf(http.StatusNotFound, msgPackagesMissing))
		return
	}
	name := segs[0]
	if err := entity.ValidateName("action name", name); err != nil {
		q.fail(c, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	switch q.r.Method {
	case http.MethodGet, http.MethodHead:
		c.getAction(q, name)
	case http.MethodPut:
		c.putAction(q, name)
	case http.MethodDelete:
		c.deleteAction(q, name)
	case http.MethodPost:
		c.invoke(q, name)
	default:
		methodIs(q.w, q.r, c, http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPost)
	}
}

// actionSummary is an entry of the action list, OpenWhisk's
// WhiskActionMetaData summary: no code and no parameters.
type actionSummary struct {
	Namespace   string              `json:"namespace"`
	Name        string              `json:"name"`
	Version     string              `json:"version"`
	Publish     bool                `json:"publish"`
	Exec        execSummary         `json:"exec"`
	Annotations entity.KeyValues    `json:"annotations"`
	Limits      entity.ActionLimits `json:"limits"`
	Updated     int64               `json:"updated,omitempty"`
}

type execSummary struct {
	Binary bool `json:"binary"`
}

func (c *Controller) listActions(q *request) {
	count, err := boolParam(q.r.URL.Query(), "count", false)
	if err != nil {
		q.fail(c, err)
		return
	}
	ctx := q.r.Context()
	if count {
		n, err := c.cfg.Store.CountActions(ctx, q.ns)
		if err != nil {
			q.fail(c, fmt.Errorf("count actions: %w", err))
			return
		}
		writeJSON(q.w, http.StatusOK, map[string]int{"actions": n})
		return
	}
	skip, limit, err := listParams(q.r.URL.Query(), "actions", entity.DefaultListLimit, entity.MaxListLimit)
	if err != nil {
		q.fail(c, err)
		return
	}
	as, err := c.cfg.Store.ListActions(ctx, q.ns, skip, limit)
	if err != nil {
		q.fail(c, fmt.Errorf("list actions: %w", err))
		return
	}
	out := make([]actionSummary, len(as))
	for i, a := range as {
		out[i] = actionSummary{
			Namespace: a.Namespace, Name: a.Name, Version: a.Version, Publish: a.Publish,
			Exec: execSummary{Binary: a.Exec.Binary}, Annotations: a.Annotations,
			Limits: a.Limits, Updated: a.Updated,
		}
	}
	writeJSON(q.w, http.StatusOK, out)
}

// view is an action as the API shows it: the digest is Stoke's internal
// cache key, not part of OpenWhisk's shape.
func view(a *entity.Action) *entity.Action {
	v := *a
	v.Exec.Digest = ""
	return &v
}

func (c *Controller) getAction(q *request, name string) {
	withCode, err := boolParam(q.r.URL.Query(), "code", true)
	if err != nil {
		q.fail(c, err)
		return
	}
	ctx := q.r.Context()
	a, err := c.cfg.Store.Action(ctx, q.ns, name)
	if err != nil {
		q.fail(c, storeError("get action", err))
		return
	}
	a = view(a)
	if withCode {
		code, err := c.cfg.Store.ActionCode(ctx, q.ns, name, a.Rev)
		if err != nil {
			q.fail(c, storeError("get action code", err))
			return
		}
		a.Exec.Code = code
	}
	writeJSON(q.w, http.StatusOK, a)
}

func (c *Controller) deleteAction(q *request, name string) {
	a, err := c.cfg.Store.DeleteAction(q.r.Context(), q.ns, name)
	if err != nil {
		q.fail(c, storeError("delete action", err))
		return
	}
	writeJSON(q.w, http.StatusOK, view(a))
}

// storeError maps store errors to API errors.
func storeError(op string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, msgNotFound)
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, msgConcurrentUpdate)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// actionPut is the PUT body, OpenWhisk's WhiskActionPut. Every field is
// optional so that an update can tell "not given" (keep) from "given".
type actionPut struct {
	Exec           *execPut          `json:"exec"`
	Parameters     *entity.KeyValues `json:"parameters"`
	Annotations    *entity.KeyValues `json:"annotations"`
	DelAnnotations []string          `json:"delAnnotations"`
	Limits         *limitsPut        `json:"limits"`
	Publish        *bool             `json:"publish"`
	Version        *string           `json:"version"`
}

type execPut struct {
	Kind       string   `json:"kind"`
	Code       *string  `json:"code"`
	Image      string   `json:"image"`
	Main       string   `json:"main"`
	Binary     *bool    `json:"binary"`
	Components []string `json:"components"`
}

type limitsPut struct {
	Timeout     *int `json:"timeout"`
	Memory      *int `json:"memory"`
	Logs        *int `json:"logs"`
	Concurrency *int `json:"concurrency"`
}

func (c *Controller) putAction(q *request, name string) {
	overwrite, err := boolParam(q.r.URL.Query(), "overwrite", false)
	if err != nil {
		q.fail(c, err)
		return
	}
	body, err := readBody(q.w, q.r, maxPutBody)
	if err != nil {
		q.fail(c, err)
		return
	}
	var put actionPut
	if len(strings.TrimSpace(string(body))) == 0 {
		q.fail(c, malformed("the body is empty; expected an action object"))
		return
	}
	if err := decodeJSON(body, &put); err != nil {
		q.fail(c, err)
		return
	}
	ctx := q.r.Context()
	old, err := c.cfg.Store.Action(ctx, q.ns, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		old = nil
	case err != nil:
		q.fail(c, fmt.Errorf("put action: %w", err))
		return
	case !overwrite:
		q.fail(c, errorf(http.StatusConflict, msgExists))
		return
	}
	a, err := c.buildAction(ctx, q.ns, name, &put, old)
	if err != nil {
		q.fail(c, err)
		return
	}
	var rev int64
	if old != nil {
		rev = old.Rev
	}
	if err := c.cfg.Store.PutAction(ctx, a, rev); err != nil {
		if errors.Is(err, store.ErrConflict) && rev == 0 {
			q.fail(c, errorf(http.StatusConflict, msgExists))
			return
		}
		q.fail(c, storeError("put action", err))
		return
	}
	if c.cfg.OnActionStored != nil {
		if err := c.cfg.OnActionStored(ctx, a); err != nil {
			c.log.Error("action stored hook", "action", a.FullName(), "err", err)
		}
	}
	writeJSON(q.w, http.StatusOK, view(a))
}

// buildAction validates put and makes the action to store: a new one, or
// old merged with put as OpenWhisk's update does (a given field replaces,
// a missing one keeps; limits merge field by field; the patch version
// goes up).
func (c *Controller) buildAction(ctx context.Context, ns, name string, put *actionPut, old *entity.Action) (*entity.Action, error) {
	if put.Exec == nil && old == nil {
		return nil, malformed("exec is required to create an action")
	}
	var a entity.Action
	if old != nil {
		a = *old
		a.Exec.Digest = ""
		a.Version = bumpPatch(old.Version)
	} else {
		a = entity.Action{Namespace: ns, Name: name, Version: "0.0.1", Limits: entity.DefaultLimits()}
		if put.Version != nil {
			if _, ok := parseSemver(*put.Version); !ok {
				return nil, malformed("field 'version' must be a semantic version like 0.0.1, got %q", *put.Version)
			}
			a.Version = *put.Version
		}
	}
	a.Namespace, a.Name = ns, name

	if put.Exec != nil {
		exec, err := c.buildExec(put.Exec)
		if err != nil {
			return nil, err
		}
		a.Exec = exec
	} else {
		// Keep the stored code: the store handed out metadata only.
		code, err := c.cfg.Store.ActionCode(ctx, ns, name, old.Rev)
		if err != nil {
			return nil, storeError("put action: read code", err)
		}
		a.Exec.Code = code
	}
	if put.Publish != nil {
		a.Publish = *put.Publish
	}
	if put.Parameters != nil {
		a.Parameters = *put.Parameters
	}
	if put.Annotations != nil {
		a.Annotations = *put.Annotations
	}
	if l := put.Limits; l != nil {
		setInt(&a.Limits.Timeout, l.Timeout)
		setInt(&a.Limits.Memory, l.Memory)
		setInt(&a.Limits.Logs, l.Logs)
		setInt(&a.Limits.Concurrency, l.Concurrency)
	}
	if err := entity.ValidateLimits(a.Limits); err != nil {
		return nil, malformed("%v", err)
	}
	if err := validateKeyValues("parameters", a.Parameters); err != nil {
		return nil, err
	}
	if err := validateKeyValues("annotations", a.Annotations); err != nil {
		return nil, err
	}
	// Annotations OpenWhisk adds itself: the kind for listings, and on
	// create no API key for the action unless it asks for one.
	a.Annotations = removeKeys(a.Annotations, put.DelAnnotations)
	a.Annotations = append(entity.KeyValues(nil), a.Annotations...).Set("exec", jsonString(a.Exec.Kind))
	if old == nil && a.Annotations.Get("provide-api-key") == nil {
		a.Annotations = a.Annotations.Set("provide-api-key", json.RawMessage("false"))
	}
	if err := c.checkBackend(&a); err != nil {
		return nil, err
	}
	return &a, nil
}

// checkBackend refuses a "backend" annotation that names no backend
// running the action's kind, so the mistake shows at create, not at the
// first invocation.
func (c *Controller) checkBackend(a *entity.Action) error {
	v := a.Annotations.Get(runtimes.BackendAnnotation)
	if v == nil {
		return nil
	}
	var name string
	if err := json.Unmarshal(v, &name); err != nil {
		return malformed("annotation '%s' must be a string", runtimes.BackendAnnotation)
	}
	rt, ok := c.cfg.Manifest.Lookup(a.Exec.Kind)
	if ok && !rt.Runs(name) {
		return malformed("backend '%s' does not run kind '%s' here; backends for it: %s",
			name, a.Exec.Kind, strings.Join(rt.Backends, ", "))
	}
	return nil
}

func (c *Controller) buildExec(p *execPut) (entity.Exec, error) {
	if p.Kind == "" {
		return entity.Exec{}, malformed("field 'exec.kind' is required")
	}
	if p.Kind == "sequence" || len(p.Components) > 0 {
		return entity.Exec{}, malformed("sequences are not supported")
	}
	kind, ok := c.resolveKind(p.Kind)
	if !ok {
		return entity.Exec{}, malformed("kind '%s' is not supported; supported kinds: %s", p.Kind, strings.Join(c.kinds(), ", "))
	}
	e := entity.Exec{Kind: kind, Image: p.Image, Main: p.Main}
	if p.Code != nil {
		e.Code = *p.Code
	}
	if e.Code == "" && e.Image == "" {
		return entity.Exec{}, malformed("field 'exec.code' is required for kind '%s'", kind)
	}
	if err := entity.ValidateCode(e.Code); err != nil {
		return entity.Exec{}, errorf(http.StatusRequestEntityTooLarge, "%v", err)
	}
	if p.Binary != nil {
		e.Binary = *p.Binary
	} else {
		e.Binary = entity.IsBinaryCode(e.Code)
	}
	return e, nil
}

// resolveKind checks kind against the manifest; "family:default" resolves
// to the family's default kind, as in OpenWhisk.
func (c *Controller) resolveKind(kind string) (string, bool) {
	if fam, ok := strings.CutSuffix(kind, ":default"); ok {
		for _, r := range c.cfg.Manifest.All() {
			if r.Default && family(r.Kind) == fam {
				return r.Kind, true
			}
		}
		return "", false
	}
	_, ok := c.cfg.Manifest.Lookup(kind)
	return kind, ok
}

func (c *Controller) kinds() []string {
	var out []string
	for _, r := range c.cfg.Manifest.All() {
		out = append(out, r.Kind)
	}
	return out
}

func validateKeyValues(what string, kv entity.KeyValues) error {
	err := entity.ValidateParameters(what, kv)
	var se *entity.SizeError
	switch {
	case errors.As(err, &se):
		return errorf(http.StatusRequestEntityTooLarge, "%v", err)
	case err != nil:
		return malformed("%v", err)
	}
	return nil
}

func setInt(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func removeKeys(kv entity.KeyValues, keys []string) entity.KeyValues {
	if len(keys) == 0 {
		return kv
	}
	out := kv[:0:0]
	for _, p := range kv {
		drop := false
		for _, k := range keys {
			if p.Key == k {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, p)
		}
	}
	return out
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// parseSemver parses "major.minor.patch".
func parseSemver(v string) ([3]int, bool) {
	var out [3]int
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

// bumpPatch is OpenWhisk's SemVer.upPatch; an unparsable version restarts
// at 0.0.1.
func bumpPatch(v string) string {
	s, ok := parseSemver(v)
	if !ok {
		return "0.0.1"
	}
	return fmt.Sprintf("%d.%d.%d", s[0], s[1], s[2]+1)
}
