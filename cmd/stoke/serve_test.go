package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stokehq/stoke/core/entity"
)

// Example modules, built once by TestMain.
var helloWasm, echoWasm []byte

// binDir holds binaries built for the tests (the wasm plugin).
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stoke-e2e")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := func() int {
		if err := buildExamples(dir); err != nil {
			fmt.Fprintln(os.Stderr, "build examples:", err)
			return 1
		}
		return m.Run()
	}()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildExamples(dir string) error {
	hello := filepath.Join(dir, "hello.wasm")
	cmd := exec.Command("go", "build", "-o", hello, "../../examples/hello-go")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build hello-go: %v\n%s", err, out)
	}
	echo := filepath.Join(dir, "echo.wasm")
	if out, err := exec.Command("wat2wasm", "../../examples/echo-wat/echo.wat", "-o", echo).CombinedOutput(); err != nil {
		return fmt.Errorf("wat2wasm (run `make deps`): %v\n%s", err, out)
	}
	var err error
	if helloWasm, err = os.ReadFile(hello); err != nil {
		return err
	}
	echoWasm, err = os.ReadFile(echo)
	return err
}

// startServe runs `stoke serve` in-process on a free port and returns its
// base URL. It stops when the test ends.
func startServe(t *testing.T, dataDir string, extra ...string) string {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	args := append([]string{"--port", "0", "--data-dir", dataDir, "--ready-file", ready,
		"--log-level", "warn", "--pause-grace", "0"}, extra...)
	var cfg serveConfig
	fs := serveFlags(&cfg)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, &cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("serve did not stop")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v", err)
		default:
		}
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			return "http://" + string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("serve did not become ready")
	return ""
}

func whiskClient(t *testing.T, base string) *whisk.Client {
	t.Helper()
	u, err := url.Parse(base + "/api")
	if err != nil {
		t.Fatal(err)
	}
	c, err := whisk.NewClient(http.DefaultClient, &whisk.Config{
		Host: u.Host, BaseURL: u, Version: "v1", Namespace: "_",
		AuthToken: entity.GuestUUID + ":" + entity.GuestKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wasmAction(name string, module []byte) *whisk.Action {
	code := base64.StdEncoding.EncodeToString(module)
	binary := true
	return &whisk.Action{
		Name: name,
		Exec: &whisk.Exec{Kind: "wasm", Code: &code, Binary: &binary},
	}
}

// waitActivation polls until the record is stored.
func waitActivation(t *testing.T, c *whisk.Client, id string) *whisk.Activation {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, _, err := c.Activations.Get(id)
		if err == nil && len(a.Logs) > 0 {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("activation %s never appeared with logs: %v", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeWithOpenWhiskClient(t *testing.T) {
	base := startServe(t, t.TempDir())
	c := whiskClient(t, base)

	if _, _, err := c.Actions.Insert(wasmAction("hello", helloWasm), false); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, _, err := c.Actions.Insert(wasmAction("hello", helloWasm), false); err == nil {
		t.Fatal("second create without overwrite succeeded; want 409")
	}
	got, _, err := c.Actions.Get("hello", false)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Exec.Kind != "wasm" || got.Version != "0.0.1" {
		t.Fatalf("get: kind %q version %q", got.Exec.Kind, got.Version)
	}
	list, _, err := c.Actions.List("", &whisk.ActionListOptions{Limit: 10})
	if err != nil || len(list) != 1 || list[0].Name != "hello" {
		t.Fatalf("list: %v %+v", err, list)
	}

	res, _, err := c.Actions.Invoke("hello", map[string]any{"name": "Stoke"}, true, true)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if m, _ := res.(map[string]any); m["greeting"] != "Hello, Stoke!" {
		t.Fatalf("invoke result %v", res)
	}

	// A full blocking invoke returns the record; its logs arrive later.
	full, _, err := c.Actions.Invoke("hello", map[string]any{"name": "again"}, true, false)
	if err != nil {
		t.Fatalf("blocking invoke: %v", err)
	}
	id, _ := full.(map[string]any)["activationId"].(string)
	if len(id) != 32 {
		t.Fatalf("activation id %q", id)
	}
	act := waitActivation(t, c, id)
	if act.Response.Status != "success" || act.Name != "hello" || act.Namespace != "guest" {
		t.Fatalf("record: %+v", act)
	}
	if !strings.Contains(strings.Join(act.Logs, "\n"), "stderr:") {
		t.Fatalf("logs %q lack a stderr line", act.Logs)
	}

	// Non-blocking: 202 and an id, the record shows up.
	nb, _, err := c.Actions.Invoke("hello", map[string]any{}, false, false)
	if err != nil {
		t.Fatalf("non-blocking invoke: %v", err)
	}
	nbID, _ := nb.(map[string]any)["activationId"].(string)
	rec := waitActivation(t, c, nbID)
	if rec.Response.Result == nil {
		t.Fatalf("non-blocking record has no result: %+v", rec)
	}
	acts, _, err := c.Activations.List(&whisk.ActivationListOptions{Name: "hello", Limit: 10})
	if err != nil || len(acts) < 3 {
		t.Fatalf("activation list: %v, %d records", err, len(acts))
	}
}

func TestServeBadModuleIsDeveloperError(t *testing.T) {
	base := startServe(t, t.TempDir())
	c := whiskClient(t, base)
	if _, _, err := c.Actions.Insert(wasmAction("junk", []byte("this is not wasm at all")), false); err != nil {
		t.Fatalf("create: %v", err)
	}
	_, resp, err := c.Actions.Invoke("junk", map[string]any{}, true, false)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("invoke of a non-module: err %v, resp %v; want 502", err, resp)
	}
	// The server keeps serving.
	if _, _, err := c.Actions.Insert(wasmAction("echo", echoWasm), false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Actions.Invoke("echo", map[string]any{"x": 1}, true, true); err != nil {
		t.Fatalf("invoke after a bad one: %v", err)
	}
}

func TestServeRestartKeepsState(t *testing.T) {
	dataDir := t.TempDir()
	var id string
	t.Run("first", func(t *testing.T) {
		c := whiskClient(t, startServe(t, dataDir))
		if _, _, err := c.Actions.Insert(wasmAction("echo", echoWasm), false); err != nil {
			t.Fatal(err)
		}
		res, _, err := c.Actions.Invoke("echo", map[string]any{"n": 1}, true, false)
		if err != nil {
			t.Fatal(err)
		}
		id = res.(map[string]any)["activationId"].(string)
		waitActivation(t, c, id)
	})
	t.Run("second", func(t *testing.T) {
		c := whiskClient(t, startServe(t, dataDir))
		if _, _, err := c.Actions.Get("echo", false); err != nil {
			t.Fatalf("action lost across restart: %v", err)
		}
		if _, _, err := c.Activations.Get(id); err != nil {
			t.Fatalf("activation lost across restart: %v", err)
		}
		if _, _, err := c.Actions.Invoke("echo", map[string]any{"n": 2}, true, true); err != nil {
			t.Fatalf("invoke after restart: %v", err)
		}
	})
}

func TestServeWasmAsPlugin(t *testing.T) {
	pluginDir := t.TempDir()
	out := filepath.Join(pluginDir, "stoke-backend-wasm")
	if b, err := exec.Command("go", "build", "-o", out, "../stoke-backend-wasm").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, b)
	}
	c := whiskClient(t, startServe(t, t.TempDir(), "--wasm-plugin", "--plugin-dir", pluginDir))
	if _, _, err := c.Actions.Insert(wasmAction("echo", echoWasm), false); err != nil {
		t.Fatal(err)
	}
	res, _, err := c.Actions.Invoke("echo", map[string]any{"via": "plugin"}, true, true)
	if err != nil {
		t.Fatalf("invoke through the plugin: %v", err)
	}
	b, _ := json.Marshal(res)
	if !strings.Contains(string(b), `plugin`) {
		t.Fatalf("result %s does not echo the input", b)
	}
	if _, _, err := c.Actions.Insert(wasmAction("hello", helloWasm), false); err != nil {
		t.Fatal(err)
	}
	res, _, err = c.Actions.Invoke("hello", map[string]any{"name": "plugin"}, true, true)
	if err != nil || res.(map[string]any)["greeting"] != "Hello, plugin!" {
		t.Fatalf("hello through the plugin: %v %v", res, err)
	}
}
