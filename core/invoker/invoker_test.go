package invoker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/bus/memory"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/runtimes"
	"github.com/stokehq/stoke/core/store/sqlite"
	"github.com/stokehq/stoke/sdk"
)

// recorder collects records by activation id.
type recorder struct {
	mu   sync.Mutex
	recs map[string]*entity.Activation
	ch   chan struct{}
}

func (r *recorder) Write(a *entity.Activation) {
	r.mu.Lock()
	r.recs[a.ActivationID] = a
	close(r.ch)
	r.ch = make(chan struct{})
	r.mu.Unlock()
}

func (r *recorder) wait(t *testing.T, id string) *entity.Activation {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		a, ch := r.recs[id], r.ch
		r.mu.Unlock()
		if a != nil {
			return a
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no record for %s", id)
		}
	}
}

type harness struct {
	t    *testing.T
	inv  *Invoker
	be   *testBackend
	bus  *memory.Bus
	db   *sqlite.DB
	rec  *recorder
	mu   sync.Mutex
	comp map[string]chan *bus.Completion
	n    int
}

type option func(*Config, *[]runtimes.Runtime)

func newHarness(t *testing.T, opts ...option) *harness {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "stoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rts := []runtimes.Runtime{
		{Kind: "test", Backend: "test", Sentinels: true},
		{Kind: "failcreate", Backend: "test", Sentinels: true},
		{Kind: "badcreate", Backend: "test", Sentinels: true},
		{Kind: "orphan", Backend: "missing"},
	}
	h := &harness{t: t, be: newTestBackend("test"), bus: memory.New(0), db: db,
		rec: &recorder{recs: make(map[string]*entity.Activation), ch: make(chan struct{})}, comp: make(map[string]chan *bus.Completion)}
	cfg := Config{
		ID: 0, Bus: h.bus, Store: db, Records: h.rec,
		Backends:   map[string]sdk.Backend{"test": h.be},
		PauseGrace: -1, LogWait: time.Second,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, o := range opts {
		o(&cfg, &rts)
	}
	m, err := runtimes.New(rts...)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Manifest = m
	inv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.inv = inv
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inv.Run(ctx) }()
	go h.bus.ConsumeCompletions(ctx, 0, func(c *bus.Completion) {
		h.mu.Lock()
		ch := h.comp[c.ActivationID]
		h.mu.Unlock()
		if ch != nil {
			ch <- c
		}
	})
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if err := inv.Close(cctx); err != nil {
			t.Errorf("close: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		h.bus.Close()
		if live, _ := h.be.livePeak(); live != 0 {
			t.Errorf("%d sandboxes left after Close", live)
		}
	})
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (h *harness) put(name, kind, code string, edit ...func(*entity.Action)) *entity.Action {
	h.t.Helper()
	a := &entity.Action{Namespace: "guest", Name: name, Version: "0.0.1",
		Exec: entity.Exec{Kind: kind, Code: code}, Limits: entity.DefaultLimits()}
	for _, e := range edit {
		e(a)
	}
	if err := h.db.PutAction(context.Background(), a, 0); err != nil {
		h.t.Fatal(err)
	}
	return a
}

// invoke sends an activation and returns its completion and full record.
func (h *harness) invoke(name string, params string) (*bus.Completion, *entity.Activation) {
	h.t.Helper()
	c := h.send(name, params)
	comp := <-c.ch
	return comp, h.rec.wait(h.t, c.id)
}

type pending struct {
	id string
	ch chan *bus.Completion
}

func (h *harness) send(name, params string) pending {
	h.t.Helper()
	h.mu.Lock()
	h.n++
	id := fmt.Sprintf("%032x", h.n)
	ch := make(chan *bus.Completion, 1)
	h.comp[id] = ch
	h.mu.Unlock()
	var rev int64
	if a, err := h.db.Action(context.Background(), "guest", name); err == nil {
		rev = a.Rev
	}
	m := &bus.ActivationMessage{ActivationID: id, TransactionID: "tx" + id, Start: time.Now(),
		Namespace: "guest", Name: name, Revision: rev, Blocking: true,
		User:    entity.Identity{Subject: "guest", Namespace: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey},
		Content: json.RawMessage(params)}
	if err := h.bus.SendActivation(context.Background(), 0, m); err != nil {
		h.t.Fatal(err)
	}
	return pending{id, ch}
}

func (p pending) wait(t *testing.T) *bus.Completion {
	t.Helper()
	select {
	case c := <-p.ch:
		return c
	case <-time.After(15 * time.Second):
		t.Fatalf("no completion for %s", p.id)
		return nil
	}
}

func annotation(a *entity.Activation, key string) string { return string(a.Annotations.Get(key)) }

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

var logLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr): `)

func TestColdThenWarm(t *testing.T) {
	h := newHarness(t)
	h.put("echo", "test", "echo")
	comp, rec := h.invoke("echo", `{"name":"Mike"}`)
	if comp.Activation == nil || len(comp.Activation.Logs) != 0 || comp.SystemError {
		t.Fatalf("completion = %+v", comp)
	}
	if rec.StatusCode != 0 || string(rec.Response.Result) != `{"name":"Mike"}` || !rec.Response.Success {
		t.Fatalf("cold record: %d %s", rec.StatusCode, rec.Response.Result)
	}
	if annotation(rec, "initTime") == "" || annotation(rec, "waitTime") == "" || annotation(rec, "path") != `"guest/echo"` ||
		annotation(rec, "kind") != `"test"` || annotation(rec, "timeout") != "false" ||
		annotation(rec, "limits") != `{"concurrency":1,"logs":10,"memory":256,"timeout":60000}` {
		t.Errorf("cold annotations: %s", mustJSON(rec.Annotations))
	}
	if len(rec.Logs) != 2 || !strings.HasSuffix(rec.Logs[0], " stdout: hello stdout") || !strings.HasSuffix(rec.Logs[1], " stderr: hello stderr") {
		t.Errorf("logs = %q", rec.Logs)
	}
	for _, l := range rec.Logs {
		if !logLine.MatchString(l) || strings.Contains(l, sdk.Sentinel) {
			t.Errorf("bad log line %q", l)
		}
	}
	if rec.Namespace != "guest" || rec.Name != "echo" || rec.Version != "0.0.1" || rec.Subject != "guest" || rec.End < rec.Start {
		t.Errorf("record header: %+v", rec)
	}

	_, rec = h.invoke("echo", `{"n":2}`)
	if rec.StatusCode != 0 || string(rec.Response.Result) != `{"n":2}` {
		t.Fatalf("warm record: %d %s", rec.StatusCode, rec.Response.Result)
	}
	if annotation(rec, "initTime") != "" {
		t.Errorf("warm run has initTime")
	}
	if len(rec.Logs) != 2 {
		t.Errorf("warm logs = %q", rec.Logs)
	}
	if n := h.be.creates.Load(); n != 1 {
		t.Errorf("creates = %d, want 1", n)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestPrewarm(t *testing.T) {
	h := newHarness(t, func(c *Config, rts *[]runtimes.Runtime) {
		(*rts)[0].StemCells = []runtimes.StemCell{{Count: 1, MemoryMB: 256}}
	})
	eventually(t, "stem cell", func() bool { return h.be.creates.Load() == 1 })
	h.put("echo", "test", "echo")
	_, rec := h.invoke("echo", `{}`)
	if rec.StatusCode != 0 || annotation(rec, "initTime") == "" {
		t.Fatalf("prewarm run: %d %s", rec.StatusCode, mustJSON(rec.Annotations))
	}
	// The stem cell was used (no create on the critical path) and replaced.
	eventually(t, "stem cell replaced", func() bool { return h.be.creates.Load() == 2 })
	if sb, _ := h.be.get("sb1"); sb == nil || sb.code.Load() != "echo" {
		t.Error("the activation did not run in the stem cell")
	}
}

func TestOutcomes(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, kind, code string
		edit             func(*entity.Action)
		params           string
		status           int
		result           string // prefix of the result
		kept             bool
		timeout          bool
	}{
		{name: "apperror", kind: "test", code: "apperror", status: 1, result: `{"error":"app failed"}`, kept: true},
		{name: "array", kind: "test", code: "echo", params: `[1,2]`, status: 0, result: `[1,2]`, kept: true},
		{name: "string", kind: "test", code: "string", status: 2,
			result: `{"error":"The action did not produce a valid JSON or JSON Array response: \"just a string\""}`},
		{name: "crash", kind: "test", code: "crash", status: 2,
			result: `{"error":"The action did not produce a valid response and exited unexpectedly."}`},
		{name: "failinit", kind: "test", code: "failinit", status: 2, result: `{"error":"boom at init"}`},
		{name: "timeout", kind: "test", code: "sleep:5000", edit: func(a *entity.Action) { a.Limits.Timeout = 200 }, status: 2,
			result: `{"error":"The action exceeded its time limits of 200 milliseconds."}`, timeout: true},
		{name: "big", kind: "test", code: "big", status: 1,
			result: `{"error":"The action produced a response that exceeded the allowed length: 1048586 > 1048576 bytes. The truncated response was: {\"big\":\"yyy`, kept: true},
		{name: "failcreate", kind: "failcreate", code: "echo", status: 3, result: `{"error":"Failed to provision resources to run the action."}`},
		{name: "badcreate", kind: "badcreate", code: "echo", status: 2, result: `{"error":"test: invalid request: bad image"}`},
		{name: "unknownkind", kind: "orphan", code: "echo", status: 3, result: `{"error":"Action version is not compatible and cannot be invoked."}`},
		{name: "badcontent", kind: "test", code: "echo", params: `"a string"`, status: 1, result: `{"error":"` + msgBadContent + `"}`},
		// Broken JSON never comes from the controller; if a bus ever
		// carried it, encoding the /run envelope still refuses it.
		{name: "brokencontent", kind: "test", code: "echo", params: `{"broken":`, status: 1, result: `{"error":"` + msgBadContent + `"}`, kept: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var edits []func(*entity.Action)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			h.put(tc.name, tc.kind, tc.code, edits...)
			params := tc.params
			if params == "" {
				params = `{}`
			}
			creates, destroys := h.be.creates.Load(), h.be.destroys.Load()
			comp, rec := h.invoke(tc.name, params)
			if rec.StatusCode != tc.status || rec.Response.StatusCode != tc.status || !strings.HasPrefix(string(rec.Response.Result), tc.result) {
				t.Fatalf("status %d result %.300s; want %d %s", rec.StatusCode, rec.Response.Result, tc.status, tc.result)
			}
			if comp.SystemError != (tc.status == 3) {
				t.Errorf("system error = %v", comp.SystemError)
			}
			if got := annotation(rec, "timeout") == "true"; got != tc.timeout {
				t.Errorf("timeout annotation = %v", got)
			}
			if h.be.creates.Load() == creates {
				return // never reached a sandbox
			}
			if tc.kept {
				time.Sleep(20 * time.Millisecond)
				if h.be.destroys.Load() != destroys {
					t.Error("sandbox destroyed, want kept")
				}
				_, again := h.invoke(tc.name, params)
				if annotation(again, "initTime") != "" {
					t.Error("second run was not warm")
				}
			} else {
				eventually(t, "destroy", func() bool { return h.be.destroys.Load() == destroys+1 })
			}
		})
	}
	t.Run("missing action", func(t *testing.T) {
		_, rec := h.invoke("nope", `{}`)
		if rec.StatusCode != 1 || string(rec.Response.Result) != `{"error":"Action could not be found or may have been deleted."}` ||
			annotation(rec, "kind") != `"unknown"` {
			t.Fatalf("%d %s %s", rec.StatusCode, rec.Response.Result, mustJSON(rec.Annotations))
		}
	})
	t.Run("developer error logs", func(t *testing.T) {
		_, rec := h.invoke("failinit", `{}`)
		if len(rec.Logs) != 1 || !strings.HasSuffix(rec.Logs[0], "stderr: init is failing") {
			t.Errorf("logs = %q", rec.Logs)
		}
	})
}

func TestEvictionAndQueue(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *[]runtimes.Runtime) { c.MemoryMB = 256 })
	h.put("a", "test", "echo")
	h.put("b", "test", "sleep:300")
	h.put("c", "test", "echo")
	if _, rec := h.invoke("a", `{}`); rec.StatusCode != 0 {
		t.Fatal(rec.Response.Result)
	}
	// b needs the memory a holds: a is evicted.
	if _, rec := h.invoke("b", `{}`); rec.StatusCode != 0 {
		t.Fatal(rec.Response.Result)
	}
	eventually(t, "eviction of a", func() bool { return h.be.destroys.Load() == 1 })

	// While b runs, c and a must queue and then run in order.
	pb := h.send("b", `{}`)
	time.Sleep(50 * time.Millisecond)
	pc := h.send("c", `{"who":"c"}`)
	time.Sleep(50 * time.Millisecond) // each message has its own goroutine: let c reach the queue first
	pa := h.send("a", `{"who":"a"}`)
	for _, p := range []pending{pb, pc, pa} {
		if c := p.wait(t); c.Activation.StatusCode != 0 {
			t.Fatalf("%s: %s", p.id, c.Activation.Response.Result)
		}
	}
	ra, rc := h.rec.wait(t, pa.id), h.rec.wait(t, pc.id)
	if rc.End > ra.Start {
		t.Errorf("c ended at %d after a started at %d: not FIFO", rc.End, ra.Start)
	}
	// Every switch of action evicted the previous sandbox: a, b, c, a.
	if n := h.be.creates.Load(); n != 4 {
		t.Errorf("creates = %d, want 4", n)
	}
	eventually(t, "one sandbox left", func() bool { live, _ := h.be.livePeak(); return live == 1 })
}

func TestPauseAndKeepAlive(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *[]runtimes.Runtime) {
		c.PauseGrace = 50 * time.Millisecond
		c.KeepAlive = 600 * time.Millisecond
	})
	h.put("echo", "test", "echo")
	h.invoke("echo", `{}`)
	eventually(t, "pause", func() bool { return h.be.pauses.Load() == 1 })
	_, rec := h.invoke("echo", `{"again":true}`)
	if rec.StatusCode != 0 || annotation(rec, "initTime") != "" || h.be.resumes.Load() != 1 {
		t.Fatalf("after pause: %d %s resumes %d", rec.StatusCode, rec.Response.Result, h.be.resumes.Load())
	}
	eventually(t, "keep-alive destroy", func() bool { return h.be.destroys.Load() == 1 })
	if h.be.creates.Load() != 1 {
		t.Errorf("creates = %d", h.be.creates.Load())
	}
}

func TestLogTruncation(t *testing.T) {
	h := newHarness(t)
	h.put("noisy", "test", "logs:11000", func(a *entity.Action) { a.Limits.Logs = 1 })
	h.put("quiet", "test", "echo", func(a *entity.Action) { a.Limits.Logs = 0 })
	_, rec := h.invoke("noisy", `{}`)
	last := rec.Logs[len(rec.Logs)-1]
	if !strings.HasSuffix(last, "stderr: Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes.") {
		t.Fatalf("last line %q", last)
	}
	if n := len(rec.Logs) - 1; n != 1048576/100 {
		t.Errorf("kept %d lines, want %d", n, 1048576/100)
	}
	if _, rec := h.invoke("quiet", `{}`); len(rec.Logs) != 0 {
		t.Errorf("log limit 0 still collected %q", rec.Logs)
	}
	// Framing stays in step on the warm sandbox.
	if _, rec := h.invoke("noisy", `{}`); len(rec.Logs) != 1048576/100+1 {
		t.Errorf("second run: %d lines", len(rec.Logs))
	}
}

func TestConcurrent(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *[]runtimes.Runtime) { c.MemoryMB = 1024 })
	for i := range 3 {
		h.put(fmt.Sprintf("f%d", i), "test", "sleep:20")
	}
	var ps []pending
	for i := range 30 {
		ps = append(ps, h.send(fmt.Sprintf("f%d", i%3), fmt.Sprintf(`{"i":%d}`, i)))
	}
	for i, p := range ps {
		c := p.wait(t)
		if c.Activation.StatusCode != 0 || string(c.Activation.Response.Result) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Errorf("activation %d: %s", i, c.Activation.Response.Result)
		}
	}
	// Like OpenWhisk, an evicted sandbox may still be going away while its
	// replacement starts; once settled, the budget holds.
	eventually(t, "budget", func() bool { live, _ := h.be.livePeak(); return live <= 4 })
	h.inv.mu.Lock()
	used := h.inv.pool.UsedMB()
	h.inv.mu.Unlock()
	if used > 1024 {
		t.Errorf("pool uses %d MB of 1024", used)
	}
}

func TestInitParamsAndPrepare(t *testing.T) {
	h := newHarness(t)
	h.put("p", "test", "echo", func(a *entity.Action) {
		a.Parameters = entity.KeyValues{{Key: "secret", Value: json.RawMessage(`"s3"`), Init: true}}
	})
	_, rec := h.invoke("p", `{"secret":"s3","x":1}`)
	if string(rec.Response.Result) != `{"x":1}` {
		t.Errorf("init parameter reached /run: %s", rec.Response.Result)
	}
	a, _ := h.db.Action(context.Background(), "guest", "p")
	if err := h.inv.Prepare(context.Background(), a); err != nil {
		t.Errorf("prepare without Preparer: %v", err)
	}
	a.Exec.Kind = "nope"
	if err := h.inv.Prepare(context.Background(), a); err == nil {
		t.Error("prepare unknown kind: want error")
	}
}

// A proxy answering 503 is shutting down: the activation runs again on
// another sandbox instead of failing (reference/openwhisk.md §1.1).
func TestRescheduleOn503(t *testing.T) {
	h := newHarness(t)
	h.put("bye", "test", "shutdown")
	c, rec := h.invoke("bye", `{"n":1}`)
	if rec.Response.StatusCode != entity.StatusSuccess || string(rec.Response.Result) != `{"n":1}` {
		t.Fatalf("record %+v, completion %+v", rec.Response, c)
	}
	if n := h.be.creates.Load(); n != 2 {
		t.Fatalf("%d sandboxes created, want 2 (the shutting-down one and its replacement)", n)
	}
	eventually(t, "the shutting-down sandbox destroyed", func() bool { return h.be.destroys.Load() >= 1 })
}

// When the sandbox dies and its backend says it was for memory, the
// activation says so in OpenWhisk's words.
func TestOOMReported(t *testing.T) {
	h := newHarness(t)
	h.put("hog", "test", "oom")
	_, rec := h.invoke("hog", `{}`)
	var res struct{ Error string }
	json.Unmarshal(rec.Response.Result, &res)
	if rec.Response.StatusCode != entity.StatusDeveloperError || res.Error != sdk.OOMLine {
		t.Fatalf("got %d %s, want developer error %q", rec.Response.StatusCode, rec.Response.Result, sdk.OOMLine)
	}
}

// The "backend" annotation picks another backend that runs the kind, and
// the two backends' sandboxes are never mixed up.
func TestBackendAnnotation(t *testing.T) {
	alt := newTestBackend("test")
	t.Cleanup(func() { // runs after the harness has closed the invoker
		if live, _ := alt.livePeak(); live != 0 {
			t.Errorf("%d alt sandboxes left", live)
		}
	})
	h := newHarness(t, func(c *Config, rts *[]runtimes.Runtime) {
		c.Backends["alt"] = alt
		(*rts)[0].Backends = []string{"test", "alt"}
		(*rts)[0].StemCells = []runtimes.StemCell{{Count: 1, MemoryMB: 256}}
	})
	eventually(t, "a stem cell on the default backend", func() bool { return h.be.creates.Load() == 1 })
	h.put("onalt", "test", "echo", func(a *entity.Action) {
		a.Annotations = a.Annotations.Set("backend", json.RawMessage(`"alt"`))
	})
	for i := 0; i < 2; i++ {
		_, rec := h.invoke("onalt", `{}`)
		if rec.Response.StatusCode != entity.StatusSuccess {
			t.Fatalf("run %d: %+v", i, rec.Response)
		}
	}
	if a, d := alt.creates.Load(), h.be.creates.Load(); a != 1 || d != 1 {
		t.Fatalf("creates: alt %d, default %d; want 1 and 1 (the stem cell stays for the default backend)", a, d)
	}
	h.put("ondefault", "test", "echo")
	if _, rec := h.invoke("ondefault", `{}`); annotation(rec, "initTime") == "" {
		t.Fatalf("default-backend action did not init a fresh sandbox: %+v", rec.Annotations)
	}
	if a := alt.creates.Load(); a != 1 {
		t.Fatalf("alt backend created %d sandboxes; the default-backend action must not land there", a)
	}
}
