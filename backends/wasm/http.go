package wasm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// Listen serves the action protocol over HTTP on addr (for example
// "127.0.0.1:0"), for plugin mode where the invoker lives in another
// process. Sandboxes created afterwards get the endpoint
// "http://ADDR/s/<id>"; POST <endpoint>/init and /run go through the same
// code as Dial's in-process Conn.
func (b *Backend) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("wasm: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	b.mu.Lock()
	if b.srv != nil || b.rt == nil {
		b.mu.Unlock()
		ln.Close()
		return fmt.Errorf("wasm: listen %s: already listening or closed", addr)
	}
	b.srv = srv
	b.addr = ln.Addr().String()
	b.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.Error("wasm: http server stopped", "err", err)
		}
	}()
	return nil
}

// ServeHTTP routes POST /s/<id>/init and /s/<id>/run to the sandbox.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/s/")
	id, op, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || (op != "init" && op != "run") {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	sb, err := b.lookup(id)
	if err != nil {
		writeReply(w, errorReply(http.StatusNotFound, "no such sandbox"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, sdk.MaxReplyBytes+1))
	if err != nil {
		writeReply(w, errorReply(http.StatusBadRequest, "cannot read the request: "+err.Error()))
		return
	}
	if len(body) > sdk.MaxReplyBytes {
		writeReply(w, errorReply(http.StatusRequestEntityTooLarge, "The request is too large."))
		return
	}
	var rep *sdk.Reply
	if op == "init" {
		rep, err = sb.Init(r.Context(), body)
	} else {
		rep, err = sb.Run(r.Context(), body)
	}
	if err != nil {
		writeReply(w, errorFor(err))
		return
	}
	writeReply(w, rep)
}

// errorFor answers a failed call the way a container would look to the
// invoker: a deadline is a 502 the invoker times out on anyway, a destroyed
// sandbox is 503 ("shutting down", rescheduled).
func errorFor(err error) *sdk.Reply {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return errorReply(http.StatusBadGateway, "The action did not complete in time.")
	case errors.Is(err, sdk.ErrNotFound):
		return errorReply(http.StatusServiceUnavailable, "The sandbox is gone.")
	default:
		return errorReply(http.StatusInternalServerError, err.Error())
	}
}

func writeReply(w http.ResponseWriter, rep *sdk.Reply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.Status)
	_, _ = w.Write(rep.Body)
}
