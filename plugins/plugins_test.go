package plugins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// echoBin is the test plugin (testdata/echoplugin), built once.
var echoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stoke-plugins-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	echoBin = filepath.Join(dir, "echoplugin")
	out, err := exec.Command("go", "build", "-o", echoBin, "./testdata/echoplugin").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the test plugin: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	// InProcess logs recovered panics to the default logger.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	code := m.Run()
	Cleanup()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testOptions(t testing.TB, env ...string) Options {
	return Options{
		Logger:         slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		HealthInterval: 100 * time.Millisecond,
		Env:            env,
	}
}

func launch(t testing.TB, env ...string) *Plugin {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := Launch(ctx, echoBin, testOptions(t, env...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// running returns the pids of processes executing path.
func running(path string) []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", d.Name(), "exe")); err == nil && exe == path {
			pids = append(pids, pid)
		}
	}
	return pids
}

func copyBin(t *testing.T, dst string) {
	t.Helper()
	b, err := os.ReadFile(echoBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	copyBin(t, filepath.Join(dir, "stoke-backend-echo"))
	os.WriteFile(filepath.Join(dir, "stoke-backend-noexec"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "other"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "stoke-backend-"), []byte("#!/bin/sh\n"), 0o755)
	os.Mkdir(filepath.Join(dir, "stoke-backend-dir"), 0o755)
	os.Symlink(filepath.Join(dir, "stoke-backend-echo"), filepath.Join(dir, "stoke-backend-link"))
	os.Symlink(filepath.Join(dir, "missing"), filepath.Join(dir, "stoke-backend-dangling"))

	got, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "stoke-backend-echo"), filepath.Join(dir, "stoke-backend-link")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Discover = %v, want %v", got, want)
	}
	if _, err := Discover(filepath.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Discover(missing dir) = %v, want ErrNotExist", err)
	}
}

func TestPlugin(t *testing.T) {
	p := launch(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	info, err := p.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "echo" || info.APIVersion != sdk.APIVersion || !info.Capabilities.Prepare {
		t.Errorf("info = %+v", info)
	}
	if _, ok := p.Backend().(sdk.Preparer); !ok {
		t.Error("Backend() of a plugin with Capabilities.Prepare is not an sdk.Preparer")
	}

	labels := map[string]string{"invoker": "0", "test": t.Name()}
	sb, err := p.Create(ctx, &sdk.Spec{Name: "a", Kind: "echo", MemoryMB: 128, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	other, err := p.Create(ctx, &sdk.Spec{Name: "b", Kind: "echo", MemoryMB: 128, Labels: map[string]string{"invoker": "1"}})
	if err != nil {
		t.Fatal(err)
	}

	logs, err := p.Logs(ctx, sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()

	t.Run("action protocol", func(t *testing.T) {
		conn, err := sdk.Dial(sb.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		body, _ := sdk.InitBody(&sdk.Init{Name: "x", Main: "main", Code: "c"})
		if r, err := conn.Init(ctx, body); err != nil || r.Status != 200 {
			t.Fatalf("init = %+v, %v", r, err)
		}
		body, _ = sdk.RunBody(&sdk.Run{Value: []byte(`{"hello":"world"}`)})
		r, err := conn.Run(ctx, body)
		if err != nil || r.Status != 200 || string(r.Body) != `{"hello":"world"}` {
			t.Fatalf("run = %+v (%s), %v", r, r.Body, err)
		}
	})

	t.Run("logs", func(t *testing.T) {
		var got []string
		for len(got) < 3 {
			l, err := logs.Next(ctx)
			if err != nil {
				t.Fatalf("after %v: %v", got, err)
			}
			got = append(got, l.Stream+" "+l.Text)
		}
		want := []string{`stdout run {"hello":"world"}`, "stdout " + sdk.Sentinel, "stderr " + sdk.Sentinel}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("lines = %q, want %q", got, want)
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := logs.Next(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next with nothing to read = %v, want DeadlineExceeded", err)
		}
	})

	t.Run("list", func(t *testing.T) {
		sbs, err := p.List(ctx, map[string]string{"test": t.Name()[:len("TestPlugin")]})
		if err != nil || len(sbs) != 1 || !reflect.DeepEqual(sbs[0], sb) {
			t.Errorf("List = %v, %v; want [%+v]", sbs, err, sb)
		}
		all, err := p.List(ctx, nil)
		if err != nil || len(all) != 2 {
			t.Errorf("List(nil) = %d sandboxes, %v; want 2", len(all), err)
		}
	})

	t.Run("typed errors", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			call func() error
			want error
		}{
			{"pause", func() error { return p.Pause(ctx, sb.ID) }, sdk.ErrUnsupported},
			{"resume", func() error { return p.Resume(ctx, sb.ID) }, sdk.ErrUnsupported},
			{"bad kind", func() error { _, err := p.Create(ctx, &sdk.Spec{Kind: "nope"}); return err }, sdk.ErrInvalid},
			{"too big", func() error { _, err := p.Create(ctx, &sdk.Spec{Kind: "echo", MemoryMB: 1 << 20}); return err }, sdk.ErrResources},
			{"nil spec", func() error { _, err := p.Create(ctx, nil); return err }, sdk.ErrInvalid},
			{"destroy unknown", func() error { return p.Destroy(ctx, "nope") }, sdk.ErrNotFound},
			{"logs unknown", func() error { _, err := p.Logs(ctx, "nope"); return err }, sdk.ErrNotFound},
			{"prepare bad kind", func() error { return p.Prepare(ctx, "nope", "code") }, sdk.ErrInvalid},
			{"prepare", func() error { return p.Prepare(ctx, "echo", "code") }, nil},
			// Over gRPC's 4 MiB default: Serve must lift the server's limit.
			{"prepare 8 MiB", func() error { return p.Prepare(ctx, "echo", strings.Repeat("a", 8<<20)) }, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call()
				if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
					t.Errorf("err = %v, want %v", err, tc.want)
				}
			})
		}
		if err := p.Destroy(ctx, "nope"); err.Error() != "destroy nope: sandbox not found" {
			t.Errorf("message = %q, want the plugin's", err)
		}
	})

	t.Run("destroy", func(t *testing.T) {
		for i := range 2 {
			if err := p.Destroy(ctx, sb.ID); err != nil {
				t.Fatalf("destroy #%d: %v", i+1, err)
			}
		}
		if _, err := logs.Next(ctx); !errors.Is(err, io.EOF) {
			t.Errorf("Next after destroy = %v, want EOF", err)
		}
		if err := p.Destroy(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		if sbs, err := p.List(ctx, nil); err != nil || len(sbs) != 0 {
			t.Errorf("List after destroy = %v, %v", sbs, err)
		}
	})
}

func TestRestart(t *testing.T) {
	p := launch(t, "STOKE_ECHO_CRASH=boom")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	old := p.Pid()

	start := time.Now()
	_, err := p.Create(ctx, &sdk.Spec{Name: "boom", Kind: "echo"})
	if !errors.Is(err, sdk.ErrResources) {
		t.Fatalf("call in flight when the plugin died = %v, want ErrResources", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the failing call took %v", d)
	}
	t.Logf("in-flight call: %v", err)

	// Calls fail fast until the health loop has a new process, then work.
	var sb *sdk.Sandbox
	for {
		sb, err = p.Create(ctx, &sdk.Spec{Name: "ok", Kind: "echo"})
		if err == nil {
			break
		}
		if !errors.Is(err, sdk.ErrResources) || ctx.Err() != nil {
			t.Fatalf("while restarting: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pid := p.Pid(); pid == old || !alive(pid) {
		t.Errorf("pid after restart = %d (before %d)", pid, old)
	}
	if alive(old) {
		t.Errorf("crashed plugin %d still alive", old)
	}
	if err := p.Destroy(ctx, sb.ID); err != nil {
		t.Error(err)
	}

	// A SIGKILL from outside is a crash too.
	old = p.Pid()
	syscall.Kill(old, syscall.SIGKILL)
	for p.Pid() == old || p.Pid() == 0 {
		if ctx.Err() != nil {
			t.Fatal("no restart after SIGKILL")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := p.List(ctx, nil); err != nil {
		t.Errorf("List after the second restart: %v", err)
	}
}

func TestVersionMismatch(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "stoke-backend-old")
	copyBin(t, bin)
	p, err := Launch(context.Background(), bin, testOptions(t, "STOKE_ECHO_API=2.0.0"))
	if err == nil {
		p.Close()
		t.Fatal("a plugin with API 2.0.0 was accepted")
	}
	if !strings.Contains(err.Error(), "major") || !strings.Contains(err.Error(), "2.0.0") {
		t.Errorf("error does not explain the mismatch: %v", err)
	}
	if pids := running(bin); len(pids) > 0 {
		t.Errorf("refused plugin still running: %v", pids)
	}
}

func TestClose(t *testing.T) {
	p := launch(t)
	pid := p.Pid()
	if !alive(pid) {
		t.Fatalf("plugin pid %d not alive", pid)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("plugin %d alive after Close", pid)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.List(context.Background(), nil); !errors.Is(err, sdk.ErrResources) {
		t.Errorf("List after Close = %v, want ErrResources", err)
	}
}

func TestHost(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "stoke-backend-echo")
	copyBin(t, bin)
	script := func(name, body string) {
		os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755)
	}
	script("stoke-backend-broken", "echo broken >&2; exit 1")
	script("stoke-backend-old", "STOKE_ECHO_API=v2.1.0 exec "+bin)
	script("stoke-backend-twin", "exec "+bin) // also named "echo": skipped

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := Load(ctx, dir, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	bs := h.Backends()
	if len(bs) != 1 || bs["echo"] == nil {
		t.Fatalf("backends = %v, want only echo", bs)
	}
	if _, err := bs["echo"].List(ctx, nil); err != nil {
		t.Error(err)
	}
	if pids := running(bin); len(pids) != 1 {
		t.Errorf("running plugins = %v, want one", pids)
	}
	h.Close()
	if pids := running(bin); len(pids) != 0 {
		t.Errorf("plugins alive after Close: %v", pids)
	}

	empty, err := Load(ctx, filepath.Join(dir, "missing"), testOptions(t))
	if err != nil || len(empty.Backends()) != 0 {
		t.Errorf("Load(missing dir) = %v, %v; want an empty host", empty, err)
	}
}

func BenchmarkPluginInfo(b *testing.B) {
	p := launch(b)
	ctx := context.Background()
	for b.Loop() {
		if err := p.Ping(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPluginLogs checks that a plugin's slog records reach the host's
// logger at their own level, with their attributes.
func TestPluginLogs(t *testing.T) {
	var buf syncBuffer
	opts := testOptions(t)
	opts.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	p, err := Launch(context.Background(), echoBin, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sb, err := p.Create(context.Background(), &sdk.Spec{Kind: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`"level":"INFO","msg":"sandbox created",%s"id":%q`, `[^\n]*`, sb.ID)
	re := regexp.MustCompile(want)
	deadline := time.Now().Add(5 * time.Second)
	for !re.MatchString(buf.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no line matching %s in the host log:\n%s", want, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
