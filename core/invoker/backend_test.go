package invoker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// testBackend is a small but real sdk.Backend: each sandbox is an
// httptest server speaking the action protocol. The action's code picks
// the behaviour:
//
//	echo      return the parameters, log one line per stream
//	sleep:N   sleep N ms, then echo
//	apperror  return {"error":"app failed"}
//	string    return a JSON string
//	failinit  fail /init with 502 {"error":"boom at init"}
//	crash     close the connection on /run
//	logs:N    write N lines of 100 bytes to stdout, then echo
//	big       return a result over 1 MB
//	shutdown  answer 503 ("shutting down") on the backend's first sandbox
//	oom       log sdk.OOMLine on stderr, then close the connection
type testBackend struct {
	kinds []string
	caps  sdk.Capabilities

	mu   sync.Mutex
	sbs  map[string]*testSandbox
	n    int
	live int
	peak int

	creates, destroys, pauses, resumes, inits atomic.Int32
}

func newTestBackend(kinds ...string) *testBackend {
	return &testBackend{kinds: kinds, caps: sdk.Capabilities{Pause: true, Concurrent: true}, sbs: make(map[string]*testSandbox)}
}

type testSandbox struct {
	id     string
	srv    *httptest.Server
	first  bool // the backend's first sandbox
	paused atomic.Bool
	code   atomic.Value // string, set by /init

	mu    sync.Mutex
	lines []sdk.LogLine
	gone  bool
	wake  chan struct{}
}

func (b *testBackend) Info(context.Context) (*sdk.Info, error) {
	return &sdk.Info{Name: "test", APIVersion: sdk.APIVersion, Kinds: b.kinds, Capabilities: b.caps}, nil
}

func (b *testBackend) Create(ctx context.Context, spec *sdk.Spec) (*sdk.Sandbox, error) {
	switch spec.Kind {
	case "failcreate":
		return nil, fmt.Errorf("test: %w: no room", sdk.ErrResources)
	case "badcreate":
		return nil, fmt.Errorf("test: %w: bad image", sdk.ErrInvalid)
	}
	b.mu.Lock()
	b.n++
	id := "sb" + strconv.Itoa(b.n)
	b.live++
	b.peak = max(b.peak, b.live)
	b.mu.Unlock()
	sb := &testSandbox{id: id, wake: make(chan struct{}), first: id == "sb1"}
	sb.srv = httptest.NewServer(sb)
	b.mu.Lock()
	b.sbs[id] = sb
	b.mu.Unlock()
	b.creates.Add(1)
	return &sdk.Sandbox{ID: id, Endpoint: sb.srv.URL, Kind: spec.Kind, MemoryMB: spec.MemoryMB, Labels: spec.Labels}, nil
}

func (b *testBackend) get(id string) (*testSandbox, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sb := b.sbs[id]
	if sb == nil {
		return nil, fmt.Errorf("test: %s: %w", id, sdk.ErrNotFound)
	}
	return sb, nil
}

func (b *testBackend) Pause(_ context.Context, id string) error {
	sb, err := b.get(id)
	if err != nil {
		return err
	}
	sb.paused.Store(true)
	b.pauses.Add(1)
	return nil
}

func (b *testBackend) Resume(_ context.Context, id string) error {
	sb, err := b.get(id)
	if err != nil {
		return err
	}
	sb.paused.Store(false)
	b.resumes.Add(1)
	return nil
}

func (b *testBackend) Destroy(_ context.Context, id string) error {
	b.mu.Lock()
	sb := b.sbs[id]
	delete(b.sbs, id)
	if sb != nil {
		b.live--
	}
	b.mu.Unlock()
	if sb == nil {
		return nil
	}
	sb.srv.CloseClientConnections()
	sb.srv.Close()
	sb.mu.Lock()
	sb.gone = true
	close(sb.wake)
	sb.wake = make(chan struct{})
	sb.mu.Unlock()
	b.destroys.Add(1)
	return nil
}

func (b *testBackend) Logs(_ context.Context, id string) (sdk.LogStream, error) {
	sb, err := b.get(id)
	if err != nil {
		return nil, err
	}
	return &testStream{sb: sb}, nil
}

func (b *testBackend) List(context.Context, map[string]string) ([]*sdk.Sandbox, error) {
	return nil, nil
}

func (b *testBackend) livePeak() (live, peak int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live, b.peak
}

type testStream struct {
	sb  *testSandbox
	pos int
}

func (s *testStream) Next(ctx context.Context) (sdk.LogLine, error) {
	for {
		s.sb.mu.Lock()
		if s.pos < len(s.sb.lines) {
			l := s.sb.lines[s.pos]
			s.pos++
			s.sb.mu.Unlock()
			return l, nil
		}
		if s.sb.gone {
			s.sb.mu.Unlock()
			return sdk.LogLine{}, io.EOF
		}
		wake := s.sb.wake
		s.sb.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return sdk.LogLine{}, ctx.Err()
		}
	}
}

func (s *testStream) Close() error { return nil }

func (sb *testSandbox) log(stream, text string) {
	sb.mu.Lock()
	sb.lines = append(sb.lines, sdk.LogLine{Time: time.Now(), Stream: stream, Text: text})
	close(sb.wake)
	sb.wake = make(chan struct{})
	sb.mu.Unlock()
}

func (sb *testSandbox) sentinels() {
	sb.log("stdout", sdk.Sentinel)
	sb.log("stderr", sdk.Sentinel)
}

func (sb *testSandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if sb.paused.Load() {
		http.Error(w, `{"error":"called while paused"}`, 500)
		return
	}
	switch r.URL.Path {
	case "/init":
		var body struct{ Value sdk.Init }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "Error unmarshaling request", 400)
			return
		}
		if sb.code.Load() != nil {
			w.WriteHeader(403)
			io.WriteString(w, `{"error":"Cannot initialize the action more than once."}`)
			return
		}
		if body.Value.Code == "failinit" {
			sb.log("stderr", "init is failing")
			sb.sentinels()
			w.WriteHeader(502)
			io.WriteString(w, `{"error":"boom at init"}`)
			return
		}
		if body.Value.Env["__OW_ACTIVATION_ID"] == "" {
			w.WriteHeader(502)
			io.WriteString(w, `{"error":"no __OW_ACTIVATION_ID in init env"}`)
			return
		}
		sb.code.Store(body.Value.Code)
		io.WriteString(w, `{"ok":true}`)
	case "/run":
		code, _ := sb.code.Load().(string)
		if code == "" {
			w.WriteHeader(500)
			io.WriteString(w, `{"error":"no action defined yet"}`)
			return
		}
		var run sdk.Run
		if err := json.NewDecoder(r.Body).Decode(&run); err != nil {
			http.Error(w, "bad run body", 400)
			return
		}
		defer sb.sentinels()
		op, arg, _ := strings.Cut(code, ":")
		n, _ := strconv.Atoi(arg)
		switch op {
		case "echo":
			sb.log("stdout", "hello stdout")
			sb.log("stderr", "hello stderr")
			w.Write(run.Value)
		case "sleep":
			select {
			case <-time.After(time.Duration(n) * time.Millisecond):
			case <-r.Context().Done():
			}
			w.Write(run.Value)
		case "apperror":
			io.WriteString(w, `{"error":"app failed"}`)
		case "string":
			io.WriteString(w, `"just a string"`)
		case "crash":
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
		case "logs":
			line := strings.Repeat("x", 100)
			for range n {
				sb.log("stdout", line)
			}
			w.Write(run.Value)
		case "shutdown":
			if sb.first {
				w.WriteHeader(503)
				io.WriteString(w, `{"error":"shutting down"}`)
				return
			}
			w.Write(run.Value)
		case "oom":
			sb.log("stderr", sdk.OOMLine)
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
		case "big":
			io.WriteString(w, `{"big":"`+strings.Repeat("y", 1<<20)+`"}`)
		default:
			w.WriteHeader(502)
			io.WriteString(w, `{"error":"unknown test code"}`)
		}
	}
}
