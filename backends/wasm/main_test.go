package wasm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// fixtures maps a fixture name ("echo", "hello-go", "example-echo") to its
// base64 code, as /init carries it.
var fixtures = map[string]string{}

// shared is the backend most tests use, so each module compiles once.
var shared *Backend

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wasm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildFixtures(dir); err != nil {
		fmt.Fprintln(os.Stderr, "wasm tests:", err)
		return 1
	}
	shared, err = New(Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer shared.Close(context.Background())
	return m.Run()
}

func buildFixtures(dir string) error {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		return errors.New("wat2wasm not found: install Debian's wabt (apt-get install wabt)")
	}
	wats, _ := filepath.Glob("testdata/*.wat")
	srcs := map[string]string{"example-echo": "../../examples/echo-wat/echo.wat"}
	for _, w := range wats {
		srcs[strings.TrimSuffix(filepath.Base(w), ".wat")] = w
	}
	for name, src := range srcs {
		out := filepath.Join(dir, name+".wasm")
		if b, err := exec.Command("wat2wasm", src, "-o", out).CombinedOutput(); err != nil {
			return fmt.Errorf("wat2wasm %s: %v: %s", src, err, b)
		}
		if err := load(name, out); err != nil {
			return err
		}
	}
	out := filepath.Join(dir, "hello-go.wasm")
	cmd := exec.Command("go", "build", "-o", out, "../../examples/hello-go")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build examples/hello-go for wasip1: %v: %s", err, b)
	}
	return load("hello-go", out)
}

func load(name, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fixtures[name] = base64.StdEncoding.EncodeToString(b)
	return nil
}

func initBodyFor(t testing.TB, fixture string, env map[string]string) []byte {
	t.Helper()
	code, ok := fixtures[fixture]
	if !ok {
		t.Fatalf("no fixture %q", fixture)
	}
	b, err := sdk.InitBody(&sdk.Init{Name: fixture, Main: "main", Binary: true, Code: code, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runBody(t testing.TB, value string) []byte {
	t.Helper()
	b, err := sdk.RunBody(&sdk.Run{
		Value:        json.RawMessage(value),
		Namespace:    "guest",
		ActionName:   "/guest/hello",
		ActivationID: "0123456789abcdef0123456789abcdef",
		Deadline:     "1700000060000",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// box is a created sandbox with its connection and log stream.
type box struct {
	b    *Backend
	sb   *sdk.Sandbox
	conn sdk.Conn
	logs sdk.LogStream
}

func create(t testing.TB, b *Backend, spec sdk.Spec) *box {
	t.Helper()
	if spec.Kind == "" {
		spec.Kind = Kind
	}
	ctx := context.Background()
	sb, err := b.Create(ctx, &spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Destroy(ctx, sb.ID) })
	c, err := b.Dial(sb)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := b.Logs(ctx, sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	return &box{b: b, sb: sb, conn: c, logs: ls}
}

// started creates a sandbox and initialises it with fixture.
func started(t testing.TB, b *Backend, fixture string, spec sdk.Spec) *box {
	t.Helper()
	x := create(t, b, spec)
	r, err := x.conn.Init(context.Background(), initBodyFor(t, fixture, nil))
	if err != nil || r.Status != 200 {
		t.Fatalf("init %s: %v %+v", fixture, err, r)
	}
	return x
}

func (x *box) run(t testing.TB, body []byte) *sdk.Reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := x.conn.Run(ctx, body)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return r
}

// activationLogs reads log lines up to and including both sentinels.
func (x *box) activationLogs(t testing.TB) []sdk.LogLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var lines []sdk.LogLine
	sentinels := 0
	for sentinels < 2 {
		l, err := x.logs.Next(ctx)
		if err != nil {
			t.Fatalf("logs after %d lines: %v", len(lines), err)
		}
		if l.Text == sdk.Sentinel {
			sentinels++
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// noLogs checks that no line is waiting on the stream.
func (x *box) noLogs(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if l, err := x.logs.Next(ctx); err == nil {
		t.Errorf("unexpected log line %+v", l)
	}
}

func errorOf(t testing.TB, r *sdk.Reply) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("reply %d %q is not an error object: %v", r.Status, r.Body, err)
	}
	return e.Error
}

func hasLine(lines []sdk.LogLine, stream, text string) bool {
	for _, l := range lines {
		if l.Stream == stream && strings.Contains(l.Text, text) {
			return true
		}
	}
	return false
}
