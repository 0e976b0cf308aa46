package wasm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/sdk"
)

func TestInitReplies(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name     string
		body     string
		status   int
		contains string
	}{
		{"not json", `{"value":`, 400, "Error unmarshaling request"},
		{"empty object", `{}`, 403, msgNoCode},
		{"no code", `{"value":{"name":"a","main":"main"}}`, 403, msgNoCode},
		{"not base64", `{"value":{"code":"%%%","binary":true}}`, 502, "not base64"},
		{"not wasm", `{"value":{"code":"` + b64([]byte("hello world")) + `","binary":true}}`, 502, "not a WebAssembly module"},
		{"bad wasm", `{"value":{"code":"` + b64([]byte("\x00asm\x01\x00\x00\x00\xff\xff")) + `","binary":true}}`, 502, "failed to compile"},
		{"no _start", `{"value":{"code":"` + b64([]byte("\x00asm\x01\x00\x00\x00")) + `","binary":true}}`, 502, "no _start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := create(t, shared, sdk.Spec{})
			r, err := x.conn.Init(context.Background(), []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status || !strings.Contains(errorOf(t, r), tt.contains) {
				t.Errorf("got %d %s, want %d containing %q", r.Status, r.Body, tt.status, tt.contains)
			}
			x.activationLogs(t) // a failed init ends with sentinels
		})
	}

	t.Run("ok then again", func(t *testing.T) {
		x := create(t, shared, sdk.Spec{})
		r, err := x.conn.Init(context.Background(), initBodyFor(t, "echo", nil))
		if err != nil || r.Status != 200 || string(r.Body) != `{"ok":true}` {
			t.Fatalf("init: %v %+v", err, r)
		}
		r, err = x.conn.Init(context.Background(), initBodyFor(t, "echo", nil))
		if err != nil || r.Status != 403 || errorOf(t, r) != msgReinit {
			t.Fatalf("second init: %v %d %s", err, r.Status, r.Body)
		}
		// The refusal is logged, with no sentinel after it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if l, err := x.logs.Next(ctx); err != nil || l.Stream != "stderr" || l.Text != msgReinit {
			t.Fatalf("refused re-init logged %+v, %v; want the message on stderr", l, err)
		}
		x.noLogs(t) // neither a good nor a refused init writes sentinels
	})

	t.Run("initial memory over the limit", func(t *testing.T) {
		x := create(t, shared, sdk.Spec{MemoryMB: 16})
		r, err := x.conn.Init(context.Background(), initBodyFor(t, "bigmem", nil))
		if err != nil || r.Status != 502 || !strings.Contains(errorOf(t, r), "initial memory") {
			t.Fatalf("got %v %+v", err, r)
		}
	})
}

func TestRunReplies(t *testing.T) {
	tests := []struct {
		fixture string
		status  int
		body    string // exact body when status is 200
		err     string // substring of the error otherwise
	}{
		{"apperror", 200, `{"error":"boom"}`, ""},
		{"trap", 502, "", "The action trapped: wasm error: unreachable"},
		{"exit3", 502, "", "The action exited with code 3."},
		{"scalar", 502, "", msgNotDict},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			x := started(t, shared, tt.fixture, sdk.Spec{})
			r := x.run(t, runBody(t, `{}`))
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if tt.status == 200 && string(r.Body) != tt.body {
				t.Errorf("body %s, want %s", r.Body, tt.body)
			}
			if tt.status != 200 && !strings.Contains(errorOf(t, r), tt.err) {
				t.Errorf("error %s, want it to contain %q", r.Body, tt.err)
			}
			x.activationLogs(t)
		})
	}

	t.Run("echo", func(t *testing.T) {
		x := started(t, shared, "echo", sdk.Spec{})
		body := []byte("{\"value\": {\"name\": \"Zoë\"},\n \"activation_id\": \"a1\"}")
		r := x.run(t, body)
		want := `{"received":{"value": {"name": "Zoë"}, "activation_id": "a1"}}`
		if r.Status != 200 || string(r.Body) != want {
			t.Fatalf("got %d %s, want %s", r.Status, r.Body, want)
		}
		logs := x.activationLogs(t)
		if !hasLine(logs, "stdout", "echo: start") || !hasLine(logs, "stderr", "echo: to stderr") {
			t.Errorf("logs %+v lack the stdout and stderr lines", logs)
		}
	})

	t.Run("bad envelope", func(t *testing.T) {
		x := started(t, shared, "echo", sdk.Spec{})
		for _, body := range []string{"", "nope", "[1,2]", `"s"`} {
			r := x.run(t, []byte(body))
			if r.Status != 400 {
				t.Errorf("run %q: %d %s", body, r.Status, r.Body)
			}
			x.activationLogs(t)
		}
	})

	t.Run("before init", func(t *testing.T) {
		x := create(t, shared, sdk.Spec{})
		r := x.run(t, runBody(t, `{}`))
		if r.Status != 500 {
			t.Errorf("got %d %s", r.Status, r.Body)
		}
		x.activationLogs(t)
	})
}

func TestExampleEcho(t *testing.T) {
	x := started(t, shared, "example-echo", sdk.Spec{MemoryMB: 64})
	for _, size := range []int{0, 10, 1500 << 10} {
		body := runBody(t, fmt.Sprintf(`{"s":%q}`, strings.Repeat("x", size)))
		r := x.run(t, body)
		want := `{"received":` + string(body) + `}`
		if r.Status != 200 || string(r.Body) != want {
			t.Fatalf("size %d: got %d %.200s", size, r.Status, r.Body)
		}
		if logs := x.activationLogs(t); !hasLine(logs, "stderr", "echo-wat: echoing") {
			t.Errorf("logs %+v", logs)
		}
	}
}

// info reports what the info fixture saw: its env lines, time and random.
type info struct {
	T uint64 `json:"t"`
	R uint64 `json:"r"`
}

func TestEnvClockRand(t *testing.T) {
	x := create(t, shared, sdk.Spec{Env: map[string]string{"__OW_API_HOST": "https://api.example", "BAD\x00": "x"}})
	ctx := context.Background()
	r, err := x.conn.Init(ctx, initBodyFor(t, "info", map[string]string{"FOO": "bar", "NUL": "a\x00b"}))
	if err != nil || r.Status != 200 {
		t.Fatalf("init: %v %+v", err, r)
	}
	var seen []info
	for i := range 2 {
		body := fmt.Sprintf(`{"value":{"x":1},"namespace":"guest","activation_id":"act%d","api_key":"k:v","deadline":17,"action_name":"/guest/a"}`, i)
		r := x.run(t, []byte(body))
		var in info
		if r.Status != 200 || json.Unmarshal(r.Body, &in) != nil {
			t.Fatalf("run: %d %s", r.Status, r.Body)
		}
		seen = append(seen, in)
		logs := x.activationLogs(t)
		for _, want := range []string{
			"FOO=bar", "__OW_API_HOST=https://api.example", fmt.Sprintf("__OW_ACTIVATION_ID=act%d", i),
			"__OW_NAMESPACE=guest", "__OW_API_KEY=k:v", "__OW_ACTION_NAME=/guest/a",
		} {
			if !hasLine(logs, "stderr", want) {
				t.Errorf("env lacks %s: %+v", want, logs)
			}
		}
		for _, bad := range []string{"__OW_VALUE", "__OW_DEADLINE", "NUL=", "BAD"} {
			if hasLine(logs, "stderr", bad) {
				t.Errorf("env has %s: %+v", bad, logs)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	now := uint64(time.Now().UnixNano())
	if d := now - seen[1].T; seen[1].T > now || d > uint64(time.Minute) {
		t.Errorf("guest time %d is not real time %d", seen[1].T, now)
	}
	if seen[1].T-seen[0].T < uint64(2*time.Millisecond) {
		t.Errorf("time did not move: %d then %d", seen[0].T, seen[1].T)
	}
	if seen[0].R == seen[1].R {
		t.Errorf("same random number twice: %d", seen[0].R)
	}
}

func TestTimeout(t *testing.T) {
	for _, tt := range []struct{ fixture, mode string }{
		{"spin", ModeInstance}, {"sleep", ModeInstance}, {"spin", ModeLoop}, {"count", ModeLoop},
	} {
		t.Run(tt.fixture+"/"+tt.mode, func(t *testing.T) {
			x := started(t, shared, tt.fixture, sdk.Spec{Annotations: map[string]string{ModeAnnotation: tt.mode}})
			if tt.fixture == "count" {
				// A warm guest first answers, then is killed while blocked reading.
				if r := x.run(t, runBody(t, `{}`)); r.Status != 200 {
					t.Fatalf("first run: %d %s", r.Status, r.Body)
				}
				x.activationLogs(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			var err error
			if tt.fixture == "count" {
				// Never answered: the feed is full and the guest waits.
				err = x.b.Destroy(context.Background(), x.sb.ID)
				_, err2 := x.conn.Run(ctx, runBody(t, `{}`))
				if err != nil || !errors.Is(err2, sdk.ErrNotFound) {
					t.Fatalf("run after destroy: %v %v", err, err2)
				}
				return
			}
			_, err = x.conn.Run(ctx, runBody(t, `{}`))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v to stop", d)
			}
			x.activationLogs(t)
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	x := started(t, shared, "grow", sdk.Spec{MemoryMB: 16})
	r := x.run(t, runBody(t, `{}`))
	if r.Status != 502 || !strings.Contains(errorOf(t, r), "trapped") {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	x.activationLogs(t)
	// The host is fine and the sandbox answers again.
	r = x.run(t, runBody(t, `{}`))
	if r.Status != 502 {
		t.Fatalf("second run: %d %s", r.Status, r.Body)
	}

	// A Go guest under a small limit fails as a developer error, not the host.
	g := started(t, shared, "hello-go", sdk.Spec{MemoryMB: 3})
	if r := g.run(t, runBody(t, `{}`)); r.Status != 502 {
		t.Errorf("go guest in 3 MiB: %d %s", r.Status, r.Body)
	}
}

func TestBounds(t *testing.T) {
	b, err := New(Config{MaxStdoutBytes: 64, MaxStderrBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())

	x := started(t, b, "echo", sdk.Spec{})
	r := x.run(t, runBody(t, `{}`))
	if r.Status != 502 || !strings.Contains(errorOf(t, r), "exceeded the limit of 64 bytes") {
		t.Errorf("big result: %d %s", r.Status, r.Body)
	}
	x.activationLogs(t)

	y := started(t, b, "logs", sdk.Spec{})
	r = y.run(t, runBody(t, `{}`))
	if r.Status != 200 {
		t.Fatalf("logs run: %d %s", r.Status, r.Body)
	}
	logs := y.activationLogs(t)
	total := 0
	for _, l := range logs[:len(logs)-1] {
		total += len(l.Text)
	}
	if total > 1000 || len(logs) < 10 || !strings.Contains(logs[len(logs)-1].Text, "Logs were truncated") {
		t.Errorf("%d lines, %d bytes, last %q", len(logs), total, logs[len(logs)-1].Text)
	}
}

func TestFreshInstanceAndLoop(t *testing.T) {
	for mode, want := range map[string][]string{
		ModeInstance: {`{"count":1}`, `{"count":1}`, `{"count":1}`},
		ModeLoop:     {`{"count":1}`, `{"count":2}`, `{"count":3}`},
	} {
		t.Run(mode, func(t *testing.T) {
			x := started(t, shared, "count", sdk.Spec{Annotations: map[string]string{ModeAnnotation: mode}})
			for i, w := range want {
				r := x.run(t, runBody(t, `{}`))
				if r.Status != 200 || string(r.Body) != w {
					t.Errorf("run %d: %d %s, want %s", i, r.Status, r.Body, w)
				}
				x.activationLogs(t)
			}
		})
	}
}

func TestGoGuest(t *testing.T) {
	mean := map[string]time.Duration{}
	for _, mode := range []string{ModeInstance, ModeLoop} {
		t.Run(mode, func(t *testing.T) {
			x := started(t, shared, "hello-go", sdk.Spec{MemoryMB: 128, Annotations: map[string]string{ModeAnnotation: mode}})
			x.run(t, runBody(t, `{}`)) // warm up
			x.activationLogs(t)
			const n = 5
			start := time.Now()
			for i := range n {
				r := x.run(t, runBody(t, fmt.Sprintf(`{"name":"n%d"}`, i)))
				want := fmt.Sprintf(`{"greeting":"Hello, n%d!"}`, i)
				if r.Status != 200 || string(r.Body) != want {
					t.Fatalf("run %d: %d %s", i, r.Status, r.Body)
				}
				logs := x.activationLogs(t)
				if !hasLine(logs, "stderr", "hello-go: greeting n") {
					t.Errorf("logs %+v", logs)
				}
			}
			mean[mode] = time.Since(start) / n
			t.Logf("%s: %v per activation", mode, mean[mode])
		})
	}
	if mean[ModeLoop] == 0 || mean[ModeLoop]*3 > mean[ModeInstance] {
		t.Errorf("loop mode %v is not much faster than instance mode %v", mean[ModeLoop], mean[ModeInstance])
	}
}

func TestPrepare(t *testing.T) {
	b, err := New(Config{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	ctx := context.Background()
	start := time.Now()
	if err := b.Prepare(ctx, Kind, fixtures["echo"]); err != nil {
		t.Fatal(err)
	}
	prep := time.Since(start)
	x := create(t, b, sdk.Spec{})
	start = time.Now()
	r, err := x.conn.Init(ctx, initBodyFor(t, "echo", nil))
	if err != nil || r.Status != 200 {
		t.Fatalf("init: %v %+v", err, r)
	}
	t.Logf("prepare %v, init after prepare %v", prep, time.Since(start))
	if n := b.compiles.Load(); n != 1 {
		t.Errorf("%d compiles, want 1", n)
	}

	if err := b.Prepare(ctx, Kind, "AAAA"); !errors.Is(err, sdk.ErrInvalid) {
		t.Errorf("bad code: %v", err)
	}
	if err := b.Prepare(ctx, "nodejs:20", fixtures["echo"]); !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("bad kind: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	b, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	in, _ := b.Info(ctx)
	if in.Name != "wasm" || in.Kinds[0] != Kind || !in.Capabilities.Prepare || !in.Capabilities.MemoryLimit || in.Capabilities.Pause {
		t.Errorf("info %+v", in)
	}
	for _, spec := range []sdk.Spec{
		{Kind: "nodejs:20"},
		{Kind: Kind, MemoryMB: -1},
		{Kind: Kind, Annotations: map[string]string{ModeAnnotation: "warp"}},
	} {
		if _, err := b.Create(ctx, &spec); err == nil {
			t.Errorf("create %+v: no error", spec)
		}
	}
	s1, _ := b.Create(ctx, &sdk.Spec{Kind: Kind, Labels: map[string]string{"a": "1", "b": "2"}})
	s2, _ := b.Create(ctx, &sdk.Spec{Kind: Kind, Labels: map[string]string{"a": "1"}})
	if !strings.HasPrefix(s1.Endpoint, "wasm://") {
		t.Errorf("endpoint %q", s1.Endpoint)
	}
	for labels, want := range map[string]int{"": 2, "a=1": 2, "b=2": 1, "c=3": 0} {
		m := map[string]string{}
		if k, v, ok := strings.Cut(labels, "="); ok {
			m[k] = v
		}
		if l, _ := b.List(ctx, m); len(l) != want {
			t.Errorf("list %q: %d, want %d", labels, len(l), want)
		}
	}
	if err := b.Pause(ctx, s1.ID); !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("pause: %v", err)
	}
	ls, _ := b.Logs(ctx, s1.ID)
	c, _ := b.Dial(s1)
	if err := b.Destroy(ctx, s1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ls.Next(ctx); err != io.EOF {
		t.Errorf("logs after destroy: %v", err)
	}
	if _, err := c.Run(ctx, []byte(`{}`)); !errors.Is(err, sdk.ErrConnection) {
		t.Errorf("run after destroy: %v", err)
	}
	if err := b.Destroy(ctx, s1.ID); err != nil {
		t.Errorf("second destroy: %v", err)
	}
	for _, id := range []string{"nope", "wasm-" + b.tag + "-999", s1.ID + "0"} {
		if err := b.Destroy(ctx, id); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("destroy %s: %v", id, err)
		}
	}
	for _, err := range []error{
		func() error { _, err := b.Logs(ctx, "nope"); return err }(),
		func() error { _, err := b.Dial(&sdk.Sandbox{ID: "nope"}); return err }(),
		b.Resume(ctx, "nope"),
	} {
		if !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
	}
	if err := b.Destroy(ctx, s2.ID); err != nil {
		t.Fatal(err)
	}
}

func TestHTTP(t *testing.T) {
	ctx := context.Background()
	b, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	if err := b.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	x := create(t, b, sdk.Spec{})
	if want := "http://" + b.listenAddr() + "/s/" + x.sb.ID; x.sb.Endpoint != want {
		t.Fatalf("endpoint %q, want %q", x.sb.Endpoint, want)
	}
	c, err := sdk.Dial(x.sb.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Init(ctx, initBodyFor(t, "echo", nil))
	if err != nil || r.Status != 200 {
		t.Fatalf("init: %v %+v", err, r)
	}
	r, err = c.Init(ctx, initBodyFor(t, "echo", nil))
	if err != nil || r.Status != 403 {
		t.Fatalf("second init: %v %+v", err, r)
	}
	body := runBody(t, `{"a":1}`)
	r, err = c.Run(ctx, body)
	if err != nil || r.Status != 200 || string(r.Body) != `{"received":`+string(body)+`}` {
		t.Fatalf("run: %v %+v", err, r)
	}
	x.activationLogs(t)

	bad, _ := sdk.Dial("http://" + b.listenAddr() + "/s/nope")
	if r, err := bad.Run(ctx, body); err != nil || r.Status != 404 {
		t.Errorf("unknown sandbox: %v %+v", err, r)
	}
	other, _ := sdk.Dial("http://" + b.listenAddr() + "/x")
	if r, err := other.Run(ctx, body); err != nil || r.Status != 404 {
		t.Errorf("unknown path: %v %+v", err, r)
	}

	// A timeout on the client side stops the guest on the server side.
	y := create(t, b, sdk.Spec{})
	cy, _ := sdk.Dial(y.sb.Endpoint)
	if r, err := cy.Init(ctx, initBodyFor(t, "spin", nil)); err != nil || r.Status != 200 {
		t.Fatalf("init spin: %v %+v", err, r)
	}
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := cy.Run(tctx, body); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("spin over http: %v", err)
	}
	y.activationLogs(t) // the server side ended the run
}

func TestConcurrent(t *testing.T) {
	const boxes, runs = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, boxes*runs)
	for i := range boxes {
		x := started(t, shared, "echo", sdk.Spec{MemoryMB: 64})
		x.logs.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range runs {
				body := []byte(fmt.Sprintf(`{"value":{"box":%d,"run":%d}}`, i, j))
				r, err := x.conn.Run(context.Background(), body)
				if err != nil || r.Status != 200 || string(r.Body) != `{"received":`+string(body)+`}` {
					errs <- fmt.Errorf("box %d run %d: %v %+v", i, j, err, r)
					return
				}
			}
		}()
	}
	// Overlapping runs on one sandbox are serialised, not refused.
	x := started(t, shared, "count", sdk.Spec{Annotations: map[string]string{ModeAnnotation: ModeLoop}})
	x.logs.Close()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range runs {
				if r, err := x.conn.Run(context.Background(), []byte(`{}`)); err != nil || r.Status != 200 {
					errs <- fmt.Errorf("loop: %v %+v", err, r)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if r := x.run(t, []byte(`{}`)); string(r.Body) != fmt.Sprintf(`{"count":%d}`, 4*runs+1) {
		t.Errorf("loop count %s", r.Body)
	}
}
