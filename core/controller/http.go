package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// Handler returns the API: GET /, /ping, /api/v1 and everything under
// /api/v1/namespaces.
func (c *Controller) Handler() http.Handler {
	return http.HandlerFunc(c.serve)
}

type ctxKey struct{}

// tidPrefix and tidSeq make transaction ids unique per process without a
// random read per request.
var (
	tidPrefix = func() string {
		b := make([]byte, 8)
		rand.Read(b)
		return hex.EncodeToString(b)
	}()
	tidSeq atomic.Uint64
)

func newTID() string {
	var b [16]byte
	n := tidSeq.Add(1)
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b[i] = digits[n&0xf]
		n >>= 4
	}
	return tidPrefix + string(b[:])
}

// tid is the request's transaction id, the "code" of error bodies.
func tid(r *http.Request) string {
	if s, ok := r.Context().Value(ctxKey{}).(string); ok {
		return s
	}
	return ""
}

// CORS headers as OpenWhisk sends them (docs/rest_api.md).
func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, DELETE, POST, PUT, HEAD")
	h.Set("Access-Control-Allow-Headers", "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent")
}

func (c *Controller) serve(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, newTID()))
	defer func() {
		// The last resort: validation should have caught the input, but a
		// panic must cost one request, never the server.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			c.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "tid", tid(r), "panic", v)
			c.writeError(w, r, errorf(http.StatusInternalServerError, msgInternal))
		}
	}()
	setCORS(w.Header())
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusOK)
		return
	}
	path := r.URL.EscapedPath()
	switch path {
	case "/", "/api/v1", "/api/v1/":
		if !methodIs(w, r, c, http.MethodGet, http.MethodHead) {
			return
		}
		writeJSON(w, http.StatusOK, c.info())
		return
	case "/ping":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("pong"))
		return
	}
	rest, ok := strings.CutPrefix(path, "/api/v1/namespaces")
	if !ok {
		c.writeError(w, r, errorf(http.StatusNotFound, msgNotFound))
		return
	}
	id, err := c.authenticate(r)
	if err != nil {
		if ae, ok := err.(*apiError); ok && ae.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="OpenWhisk secure realm"`)
		}
		c.writeError(w, r, err)
		return
	}
	segs, err := splitPath(rest)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	if len(segs) == 0 {
		if methodIs(w, r, c, http.MethodGet) {
			writeJSON(w, http.StatusOK, []string{id.Namespace})
		}
		return
	}
	ns := segs[0]
	if ns == "_" {
		ns = id.Namespace
	} else if ns != id.Namespace {
		c.writeError(w, r, errorf(http.StatusForbidden, msgForbidden))
		return
	}
	req := &request{w: w, r: r, id: id, ns: ns}
	switch {
	case len(segs) == 1:
		c.writeError(w, r, errorf(http.StatusNotFound, msgNotFound))
	case segs[1] == "actions":
		c.routeActions(req, segs[2:])
	case segs[1] == "activations":
		c.routeActivations(req, segs[2:])
	case segs[1] == "limits" && len(segs) == 2:
		if methodIs(w, r, c, http.MethodGet) {
			writeJSON(w, http.StatusOK, c.namespaceLimits())
		}
	default:
		c.writeError(w, r, errorf(http.StatusNotFound, msgNotFound))
	}
}

// splitPath splits "/a/b%20c/" into unescaped segments ["a", "b c"]. A
// trailing slash is ignored; an empty inner segment is a 404.
func splitPath(p string) ([]string, error) {
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil, nil
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return nil, errorf(http.StatusNotFound, msgNotFound)
		}
		segs[i] = u
	}
	return segs, nil
}

// methodIs answers 405 unless r's method is one of allowed.
func methodIs(w http.ResponseWriter, r *http.Request, c *Controller, allowed ...string) bool {
	for _, m := range allowed {
		if r.Method == m {
			return true
		}
	}
	list := strings.Join(allowed, ", ")
	w.Header().Set("Allow", list)
	c.writeError(w, r, errorf(http.StatusMethodNotAllowed, "HTTP method not allowed, supported methods: %s", list))
	return false
}
