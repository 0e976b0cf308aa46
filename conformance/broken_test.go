package conformance_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/backends/wasm"
	"github.com/stokehq/stoke/conformance"
	"github.com/stokehq/stoke/sdk"
)

// fakeRuntime is a small action-protocol server in the manner of
// OpenWhisk's Go proxy. Its "code" names a built-in behaviour (identity,
// echo, ...), and each fault switch breaks one rule of the protocol.
type fakeRuntime struct {
	faults
	sandboxEnv map[string]string
	mu         sync.Mutex
	code       string
	initEnv    map[string]string
	logs       chan sdk.LogLine
}

func (f *fakeRuntime) log(stream, text string) {
	f.logs <- sdk.LogLine{Time: time.Now(), Stream: stream, Text: text}
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeRuntime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/init":
		var in struct{ Value *sdk.Init }
		if err := json.Unmarshal(body, &in); err != nil {
			reply(w, 400, map[string]string{"error": "Error unmarshaling request: " + err.Error()})
			return
		}
		if f.code != "" && !f.allowReinit {
			f.log("stderr", "Cannot initialize the action more than once.")
			reply(w, 403, map[string]string{"error": "Cannot initialize the action more than once."})
			return
		}
		if in.Value == nil || in.Value.Code == "" {
			reply(w, 403, map[string]string{"error": "Missing main/no code to execute."})
			return
		}
		f.code, f.initEnv = in.Value.Code, in.Value.Env
		if f.ignoreInitEnv {
			f.initEnv = nil
		}
		reply(w, 200, map[string]bool{"ok": true})
	case "/run":
		if f.code == "" {
			reply(w, 500, map[string]string{"error": "no action defined yet"})
			return
		}
		status, res := f.run(r.Context(), body)
		reply(w, status, res)
		f.log("stdout", sdk.Sentinel)
		if !f.dropSentinel {
			f.log("stderr", sdk.Sentinel)
		}
	}
}

func (f *fakeRuntime) run(ctx context.Context, body []byte) (int, any) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return 400, map[string]string{"error": err.Error()}
	}
	var value any
	json.Unmarshal(env["value"], &value)
	var res any
	switch f.code {
	case "identity":
		res = value
	case "echo":
		f.log("stdout", "hello stdout")
		f.log("stderr", "hello stderr")
		res = value
	case "unicode":
		d := value.(map[string]any)["delimiter"].(string)
		s := d + " ☃ " + d
		f.log("stdout", s)
		res = map[string]string{"winter": s}
	case "env":
		vars := maps.Clone(f.sandboxEnv)
		maps.Copy(vars, f.initEnv)
		for k, raw := range env {
			var s string
			if k != "value" && json.Unmarshal(raw, &s) == nil {
				vars["__OW_"+strings.ToUpper(k)] = s
			}
		}
		out := map[string]string{}
		for k, v := range vars {
			out[k] = v
			if rest, ok := strings.CutPrefix(k, "__OW_"); ok {
				out[strings.ToLower(rest)] = v
			}
		}
		res = out
	case "string":
		res = "not json"
	case "apperror":
		res = map[string]string{"error": "sorry"}
	case "spin":
		<-ctx.Done()
		return 502, map[string]string{"error": "timed out"}
	}
	switch res.(type) {
	case map[string]any, map[string]string, []any:
		return 200, res
	}
	if f.stringResultOK {
		return 200, res
	}
	return 502, map[string]string{"error": "The action did not return a dictionary or array."}
}

// faults are the protocol rules a fakeRuntime breaks.
type faults struct {
	allowReinit    bool // a second /init succeeds
	dropSentinel   bool // no sentinel on stderr after a /run
	stringResultOK bool // a string result is answered 200
	ignoreInitEnv  bool // /init's env never reaches the action
}

type chanStream struct {
	ch   chan sdk.LogLine
	done chan struct{}
}

func (s *chanStream) Next(ctx context.Context) (sdk.LogLine, error) {
	select {
	case l := <-s.ch:
		return l, nil
	case <-s.done:
		return sdk.LogLine{}, io.EOF
	case <-ctx.Done():
		return sdk.LogLine{}, ctx.Err()
	}
}

func (s *chanStream) Close() error { return nil }

func fakeTarget(fl faults) conformance.RuntimeTarget {
	fx := func(code string) conformance.Fixture { return conformance.Fixture{Code: code, Source: code} }
	return conformance.RuntimeTarget{
		Kind: "fake",
		Fixtures: conformance.Fixtures{
			"C03": fx("string"), "C04": fx("identity"), "C05": fx("identity"), "C06": fx("echo"),
			"C07": fx("unicode"), "C08": fx("env"), "C09": fx("env"), "C10": fx("identity"),
			"C13": fx("identity"), "C20": fx("apperror"), "C23": fx("spin"),
		},
		NewSandbox: func(ctx context.Context, opts conformance.SandboxOptions) (*conformance.Sandbox, error) {
			f := &fakeRuntime{
				faults:     fl,
				sandboxEnv: maps.Clone(opts.Env), logs: make(chan sdk.LogLine, 1024),
			}
			if f.sandboxEnv == nil {
				f.sandboxEnv = map[string]string{}
			}
			srv := httptest.NewServer(f)
			conn, err := sdk.Dial(srv.URL)
			if err != nil {
				srv.Close()
				return nil, err
			}
			done := make(chan struct{})
			return &conformance.Sandbox{
				Conn: conn,
				Logs: &chanStream{ch: f.logs, done: done},
				Close: func() error {
					srv.CloseClientConnections()
					srv.Close()
					close(done)
					return nil
				},
			}, nil
		},
		LogWait:  300 * time.Millisecond,
		LogGrace: 20 * time.Millisecond,
	}
}

// Each broken runtime fails exactly the cases for its fault; a correct
// one fails none, which shows the faults, not the fake, are caught.
func TestBrokenRuntimes(t *testing.T) {
	tests := []struct {
		name  string
		fake  faults
		fails map[string]string // case ID -> text its failure must contain
	}{
		{"correct", faults{}, nil},
		{"second init allowed", faults{allowReinit: true}, map[string]string{"C04": "status 200"}},
		{"stderr sentinel dropped", faults{dropSentinel: true}, map[string]string{
			"C03": "0 sentinels on stderr, want 1", "C05": "0 sentinels on stderr", "C06": "0 sentinels on stderr, want 4",
			"C07": "0 sentinels on stderr", "C08": "0 sentinels on stderr", "C09": "0 sentinels on stderr",
			"C20": "0 sentinels on stderr"}},
		{"string result is 200", faults{stringResultOK: true}, map[string]string{"C03": "status 200"}},
		{"init env ignored", faults{ignoreInitEnv: true}, map[string]string{"C08": "SOME_VAR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep := conformance.Check(t.Context(), fakeTarget(tt.fake))
			var ids []string
			for id := range tt.fails {
				ids = append(ids, id)
			}
			wantOnly(t, rep, ids...)
			for _, r := range rep.Results {
				if want, ok := tt.fails[r.ID]; ok && !strings.Contains(r.Why, want) {
					t.Errorf("%s failed with %q, want it to mention %q", r.ID, r.Why, want)
				}
			}
		})
	}
}

// leakyBackend keeps destroyed sandboxes in List.
type leakyBackend struct {
	*wasm.Backend
	mu  sync.Mutex
	all []*sdk.Sandbox
}

func (b *leakyBackend) Create(ctx context.Context, spec *sdk.Spec) (*sdk.Sandbox, error) {
	sb, err := b.Backend.Create(ctx, spec)
	if err == nil {
		b.mu.Lock()
		b.all = append(b.all, sb)
		b.mu.Unlock()
	}
	return sb, err
}

func (b *leakyBackend) List(_ context.Context, labels map[string]string) ([]*sdk.Sandbox, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*sdk.Sandbox
	for _, sb := range b.all {
		ok := true
		for k, v := range labels {
			ok = ok && sb.Labels[k] == v
		}
		if ok {
			out = append(out, sb)
		}
	}
	return out, nil
}

// laxBackend answers Destroy of an unknown id with nil.
type laxBackend struct{ *wasm.Backend }

func (b laxBackend) Destroy(ctx context.Context, id string) error {
	if err := b.Backend.Destroy(ctx, id); err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return err
	}
	return nil
}

func TestBrokenBackends(t *testing.T) {
	tests := []struct {
		name    string
		backend func(t *testing.T) sdk.Backend
		fails   map[string]string
	}{
		{"List keeps destroyed sandboxes", func(t *testing.T) sdk.Backend { return &leakyBackend{Backend: newWasm(t)} },
			map[string]string{"B07": "after destroying", "B12": "after the suite"}},
		{"Destroy of an unknown id is nil", func(t *testing.T) sdk.Backend { return laxBackend{newWasm(t)} },
			map[string]string{"B04": "Destroy(unknown id) = <nil>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep := conformance.CheckBackend(t.Context(), conformance.BackendTarget{
				Backend: tt.backend(t), Fixtures: wasmFixtures(t), LogGrace: 20 * time.Millisecond,
			})
			var ids []string
			for id := range tt.fails {
				ids = append(ids, id)
			}
			wantOnly(t, rep, ids...)
			for _, r := range rep.Results {
				if want, ok := tt.fails[r.ID]; ok && !strings.Contains(r.Why, want) {
					t.Errorf("%s failed with %q, want it to mention %q", r.ID, r.Why, want)
				}
			}
		})
	}
}
