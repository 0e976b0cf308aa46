// Command echoplugin is the backend plugin the plugins tests launch. Its
// sandboxes are HTTP servers on 127.0.0.1 inside the plugin process that
// answer /init with {"ok":true} and /run with the "value" they were sent,
// logging a line and the sentinels for every /run.
//
// Switches, for the tests:
//
//	STOKE_ECHO_API=2.0.0     report that API version instead of sdk.APIVersion
//	STOKE_ECHO_CRASH=name    exit(3) in Create when Spec.Name is name
//
// Spec.Kind "bad" is ErrInvalid, Spec.MemoryMB over 4096 is ErrResources,
// Pause and Resume are ErrUnsupported, Prepare rejects kind "bad".
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/stokehq/stoke/sdk"
)

func main() {
	sdk.Serve(&echo{sandboxes: map[string]*sandbox{}, gone: map[string]bool{}})
}

type echo struct {
	mu        sync.Mutex
	next      int
	sandboxes map[string]*sandbox
	gone      map[string]bool // destroyed ids: a second Destroy is not an error
}

type sandbox struct {
	sb   *sdk.Sandbox
	srv  *http.Server
	mu   sync.Mutex
	subs []chan sdk.LogLine
	done chan struct{}
}

func (e *echo) Info(context.Context) (*sdk.Info, error) {
	api := sdk.APIVersion
	if v := os.Getenv("STOKE_ECHO_API"); v != "" {
		api = v
	}
	return &sdk.Info{Name: "echo", Version: "0.0.1", APIVersion: api, Kinds: []string{"echo"},
		Capabilities: sdk.Capabilities{Prepare: true, Concurrent: true}}, nil
}

func (e *echo) Prepare(_ context.Context, kind, _ string) error {
	if kind != "echo" {
		return fmt.Errorf("prepare kind %q: %w", kind, sdk.ErrInvalid)
	}
	return nil
}

func (e *echo) Create(ctx context.Context, spec *sdk.Spec) (*sdk.Sandbox, error) {
	if c := os.Getenv("STOKE_ECHO_CRASH"); c != "" && c == spec.Name {
		os.Exit(3)
	}
	if spec.Kind != "echo" {
		return nil, fmt.Errorf("create kind %q: %w", spec.Kind, sdk.ErrInvalid)
	}
	if spec.MemoryMB > 4096 {
		return nil, fmt.Errorf("create %d MiB: %w", spec.MemoryMB, sdk.ErrResources)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("create: %w: %v", sdk.ErrResources, err)
	}
	e.mu.Lock()
	e.next++
	id := "echo-" + strconv.Itoa(e.next)
	e.mu.Unlock()
	s := &sandbox{
		sb: &sdk.Sandbox{ID: id, Endpoint: "http://" + ln.Addr().String(), Kind: spec.Kind,
			MemoryMB: spec.MemoryMB, Labels: maps.Clone(spec.Labels), State: []byte(id)},
		done: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /init", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"ok":true}`))
	})
	mux.HandleFunc("POST /run", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Value json.RawMessage `json:"value"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"bad run body"}`))
			return
		}
		s.log("stdout", "run "+string(req.Value))
		s.log("stdout", sdk.Sentinel)
		s.log("stderr", sdk.Sentinel)
		w.Write(req.Value)
	})
	s.srv = &http.Server{Handler: mux}
	go s.srv.Serve(ln)
	e.mu.Lock()
	e.sandboxes[id] = s
	e.mu.Unlock()
	slog.Info("sandbox created", "id", id)
	return s.sb, nil
}

func (s *sandbox) log(stream, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.subs {
		select {
		case c <- sdk.LogLine{Time: time.Now(), Stream: stream, Text: text}:
		default: // a slow reader loses lines rather than blocking /run
		}
	}
}

func (e *echo) Pause(context.Context, string) error {
	return fmt.Errorf("pause: %w", sdk.ErrUnsupported)
}

func (e *echo) Resume(context.Context, string) error {
	return fmt.Errorf("resume: %w", sdk.ErrUnsupported)
}

func (e *echo) Destroy(ctx context.Context, id string) error {
	e.mu.Lock()
	s, ok := e.sandboxes[id]
	gone := e.gone[id]
	delete(e.sandboxes, id)
	if ok {
		e.gone[id] = true
	}
	e.mu.Unlock()
	if !ok {
		if gone {
			return nil
		}
		return fmt.Errorf("destroy %s: %w", id, sdk.ErrNotFound)
	}
	close(s.done)
	return s.srv.Close()
}

func (e *echo) Logs(ctx context.Context, id string) (sdk.LogStream, error) {
	e.mu.Lock()
	s, ok := e.sandboxes[id]
	e.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("logs %s: %w", id, sdk.ErrNotFound)
	}
	c := make(chan sdk.LogLine, 256)
	s.mu.Lock()
	s.subs = append(s.subs, c)
	s.mu.Unlock()
	return &stream{c: c, done: s.done}, nil
}

type stream struct {
	c    chan sdk.LogLine
	done chan struct{}
}

func (s *stream) Next(ctx context.Context) (sdk.LogLine, error) {
	select {
	case l := <-s.c:
		return l, nil
	case <-s.done:
		return sdk.LogLine{}, io.EOF
	case <-ctx.Done():
		return sdk.LogLine{}, ctx.Err()
	}
}

func (s *stream) Close() error { return nil }

func (e *echo) List(_ context.Context, labels map[string]string) ([]*sdk.Sandbox, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*sdk.Sandbox
	for _, s := range e.sandboxes {
		match := true
		for k, v := range labels {
			if s.sb.Labels[k] != v {
				match = false
			}
		}
		if match {
			out = append(out, s.sb)
		}
	}
	return out, nil
}
