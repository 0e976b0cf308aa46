package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/bus/memory"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/runtimes"
	"github.com/stokehq/stoke/core/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// other is a second tenant, to check that namespaces stay apart.
var other = &entity.Identity{Subject: "other", Namespace: "other", UUID: "11111111-2222-3333-4444-555555555555", Key: strings.Repeat("k", 64)}

// env is a controller over real HTTP, the real memory bus and the real
// sqlite store, with a small fake invoker answering on the bus.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	ctl     *Controller
	db      *sqlite.DB
	bus     *memory.Bus
	records *records
	stored  chan *entity.Action // OnActionStored calls
}

// records is an in-memory Records: what an invoker queued but the store
// has not got yet.
type records struct {
	mu sync.Mutex
	m  map[string]*entity.Activation
}

func (r *records) Lookup(ns, id string) (*entity.Activation, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.m[ns+"/"+id]
	return a, ok
}

func (r *records) add(a *entity.Activation) {
	r.mu.Lock()
	r.m[a.Namespace+"/"+a.ActivationID] = a
	r.mu.Unlock()
}

func testManifest(t testing.TB) *runtimes.Manifest {
	m, err := runtimes.New(
		runtimes.Runtime{Kind: "wasm", Backend: "wasm", Default: true, Sentinels: true},
		runtimes.Runtime{Kind: "nodejs:20", Backend: "docker", Default: true, Image: "openwhisk/action-nodejs-v20", Sentinels: true},
		runtimes.Runtime{Kind: "nodejs:18", Backend: "docker", Image: "openwhisk/action-nodejs-v18", Sentinels: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newEnv(t testing.TB, tweak ...func(*Config)) *env {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "stoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, id := range []*entity.Identity{
		{Subject: "guest", Namespace: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey}, other,
	} {
		if err := db.PutIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	b := memory.New(0)
	t.Cleanup(func() { b.Close() })
	e := &env{db: db, bus: b, records: &records{m: map[string]*entity.Activation{}}, stored: make(chan *entity.Action, 16)}
	cfg := Config{
		ID: 3, Bus: b, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: db, Records: e.records, Manifest: testManifest(t),
		OnActionStored: func(_ context.Context, a *entity.Action) error {
			select {
			case e.stored <- a:
			default:
			}
			return nil
		},
	}
	for _, f := range tweak {
		f(&cfg)
	}
	ctl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.ctl = ctl
	go ctl.Run(ctx)
	go b.ConsumeActivations(ctx, 0, func(m *bus.ActivationMessage) { go e.answer(ctx, m) })
	e.srv = httptest.NewServer(ctl.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// answer plays the invoker. The action's name says how it behaves.
func (e *env) answer(ctx context.Context, m *bus.ActivationMessage) {
	code, result := entity.StatusSuccess, json.RawMessage(m.Content)
	switch {
	case strings.HasPrefix(m.Name, "silent"):
		return
	case strings.HasPrefix(m.Name, "slow"):
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	case strings.HasPrefix(m.Name, "apperr"):
		code, result = entity.StatusApplication, entity.ErrorResult("app says no")
	case strings.HasPrefix(m.Name, "deverr"):
		code, result = entity.StatusDeveloperError, entity.ErrorResult("The action did not produce a valid response.")
	case strings.HasPrefix(m.Name, "whiskerr"):
		code, result = entity.StatusWhiskError, entity.ErrorResult("backend unavailable")
	}
	now := time.Now().UnixMilli()
	rec := &entity.Activation{
		Namespace: m.User.Namespace, Name: m.Name, Version: m.Version, Subject: m.User.Subject,
		ActivationID: m.ActivationID, Start: now, End: now + 1, Duration: 1, StatusCode: code,
		Response: entity.NewResponse(code, result),
		Logs:     []string{"2024-01-01T00:00:00.000000000Z stdout: hello"},
		Annotations: entity.KeyValues{
			{Key: "path", Value: jsonString(m.Namespace + "/" + m.Name)},
			{Key: "kind", Value: jsonString("wasm")},
		},
	}
	if !strings.HasPrefix(m.Name, "queued") {
		if err := e.db.PutActivations(ctx, []*entity.Activation{rec}); err != nil {
			return
		}
	} else {
		e.records.add(rec)
	}
	e.bus.SendCompletion(ctx, m.Controller, &bus.Completion{ActivationID: m.ActivationID, TransactionID: m.TransactionID, Activation: rec})
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do calls the API as guest.
func (e *env) do(t testing.TB, method, path, body string) resp {
	return e.doAs(t, entity.GuestUUID, entity.GuestKey, method, path, body)
}

func (e *env) doAs(t testing.TB, user, key, method, path, body string) resp {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// mustPut creates or replaces an action.
func (e *env) mustPut(t testing.TB, name, body string) {
	t.Helper()
	r := e.do(t, "PUT", "/api/v1/namespaces/_/actions/"+name+"?overwrite=true", body)
	if r.status != http.StatusOK {
		t.Fatalf("put %s: %d %s", name, r.status, r.body)
	}
}

const helloAction = `{"exec":{"kind":"wasm","code":"hello code"}}`

// golden compares a JSON body with testdata/<top-level test>/<name>.golden after
// blanking what changes from run to run (ids, times, transaction ids).
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: not JSON: %v: %s", name, err, body)
	}
	if m, ok := v.(map[string]any); ok {
		if _, isErr := m["error"]; isErr {
			m["code"] = "TID"
		}
	}
	normalize(v)
	got, _ := json.MarshalIndent(v, "", "  ")
	got = append(got, '\n')
	top, _, _ := strings.Cut(t.Name(), "/")
	path := filepath.Join("testdata", top, name+".golden")
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\ngot:\n%s\nwant:\n%s", name, path, got, want)
	}
}

func normalize(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch k {
			case "updated", "start", "end":
				x[k] = 0
			case "activationId":
				x[k] = "ID"
			default:
				normalize(val)
			}
		}
	case []any:
		for _, e := range x {
			normalize(e)
		}
	}
}
