package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/client"
	"github.com/stokehq/stoke/core/entity"
)

// The container kinds end to end: actions created and invoked through the
// REST API on the real docker engine and under runc, cold, prewarmed and
// warm, told apart by their records' initTime and waitTime.

var (
	pluginsOnce sync.Once
	pluginsDir  string
	pluginsErr  error
)

// containerPlugins builds the docker and runc plugin binaries once.
func containerPlugins(t *testing.T) string {
	t.Helper()
	pluginsOnce.Do(func() {
		pluginsDir = filepath.Join(binDir, "plugins")
		for _, name := range []string{"docker", "runc"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(pluginsDir, "stoke-backend-"+name), "../stoke-backend-"+name).CombinedOutput()
			if err != nil {
				pluginsErr = fmt.Errorf("build %s plugin: %v\n%s", name, err, out)
				return
			}
		}
	})
	if pluginsErr != nil {
		t.Fatal(pluginsErr)
	}
	return pluginsDir
}

// needEngines fails (CI=true) or skips the test unless the docker engine,
// runc, root and the runtime images (make images) are all here.
func needEngines(t *testing.T) string {
	t.Helper()
	var missing []string
	if err := exec.Command("docker", "info").Run(); err != nil {
		missing = append(missing, "a reachable docker engine")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		if _, err := os.Stat("/usr/sbin/runc"); err != nil {
			missing = append(missing, "runc")
		}
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root (runc)")
	}
	runtimesDir, _ := filepath.Abs("../../bin/runtimes")
	for _, name := range []string{"nodejs20", "python3", "native"} {
		if _, err := os.Stat(filepath.Join(runtimesDir, name, "rootfs")); err != nil {
			missing = append(missing, "runtime "+name+" (make images)")
		}
	}
	if len(missing) > 0 {
		msg := "container tests need " + strings.Join(missing, ", ")
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	return runtimesDir
}

func startContainerServe(t *testing.T, containerBackend string) *client.Client {
	t.Helper()
	runtimesDir := needEngines(t)
	base := startServe(t, t.TempDir(), "--plugin-dir", containerPlugins(t), "--runtimes-dir", runtimesDir,
		"--container-backend", containerBackend, "--pause-grace", "300ms")
	c, err := client.New(base, entity.GuestUUID+":"+entity.GuestKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	nodeHello   = "function main(p) { console.log('node says hi'); return {echo: p, kind: 'node'}; }"
	pythonHello = "def main(args):\n    print('python says hi')\n    return {'echo': args, 'kind': 'python'}\n"
	nativeHello = "#!/bin/sh\necho native says hi\necho \"{\\\"echo\\\": $1, \\\"kind\\\": \\\"native\\\"}\"\n"
)

func put(t *testing.T, c *client.Client, name, kind, code string, edit ...func(*entity.Action)) {
	t.Helper()
	a := &entity.Action{Name: name, Exec: entity.Exec{Kind: kind, Code: code}}
	for _, e := range edit {
		e(a)
	}
	if _, err := c.Actions.Put(context.Background(), a, true); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

func invoke(t *testing.T, c *client.Client, name, params string) *entity.Activation {
	t.Helper()
	r, err := c.Actions.Invoke(context.Background(), name, json.RawMessage(params), client.InvokeOptions{Blocking: true})
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	if r.Activation == nil {
		t.Fatalf("invoke %s: no record (status %d, result %s)", name, r.Status, r.Result)
	}
	return r.Activation
}

func annotationInt(a *entity.Activation, key string) (int, bool) {
	v := a.Annotations.Get(key)
	if v == nil {
		return 0, false
	}
	var n int
	json.Unmarshal(v, &n)
	return n, true
}

// startType reads how a record's sandbox was obtained.
func startType(a *entity.Activation) string {
	if _, ok := annotationInt(a, "initTime"); !ok {
		return "warm"
	}
	return "init"
}

func TestContainerKinds(t *testing.T) {
	for _, be := range []string{"docker", "runc"} {
		t.Run(be, func(t *testing.T) {
			c := startContainerServe(t, be)
			// Stem cells (nodejs:20 ×2, python:3 ×1, 256 MB) start with the server.
			time.Sleep(2 * time.Second)

			for _, k := range []struct{ kind, code string }{
				{"nodejs:20", nodeHello}, {"python:3", pythonHello}, {"native", nativeHello},
			} {
				name := strings.NewReplacer(":", "", ".", "").Replace(k.kind)
				put(t, c, name, k.kind, k.code)
				first := invoke(t, c, name, `{"n":1}`)
				second := invoke(t, c, name, `{"n":2}`)
				for i, a := range []*entity.Activation{first, second} {
					var res struct {
						Echo struct{ N int }
						Kind string
					}
					if err := json.Unmarshal(a.Response.Result, &res); err != nil || res.Echo.N != i+1 || !strings.HasPrefix(k.kind, res.Kind[:4]) {
						t.Fatalf("%s run %d: %s %s", k.kind, i+1, a.Response.Status, a.Response.Result)
					}
					if kind := string(a.Annotations.Get("kind")); kind != `"`+k.kind+`"` {
						t.Errorf("%s: kind annotation %s", k.kind, kind)
					}
				}
				wait, _ := annotationInt(first, "waitTime")
				initTime, _ := annotationInt(first, "initTime")
				t.Logf("%s on %s: first %s (wait %d ms, init %d ms, duration %d ms), second %s (duration %d ms)",
					k.kind, be, startType(first), wait, initTime, first.Duration, startType(second), second.Duration)
				if startType(first) != "init" || startType(second) != "warm" {
					t.Errorf("%s: first %s, second %s; want init then warm", k.kind, startType(first), startType(second))
				}
			}

			// Cold against prewarm: 512 MB has no stem cell, 256 MB has.
			put(t, c, "cold", "nodejs:20", nodeHello, func(a *entity.Action) { a.Limits.Memory = 512 })
			put(t, c, "prewarm", "nodejs:20", nodeHello)
			cold := invoke(t, c, "cold", `{}`)
			time.Sleep(time.Second) // the stem cell the first node action took is replaced
			pre := invoke(t, c, "prewarm", `{}`)
			cw, _ := annotationInt(cold, "waitTime")
			pw, _ := annotationInt(pre, "waitTime")
			t.Logf("%s: cold wait %d ms, prewarm wait %d ms", be, cw, pw)
			if startType(cold) != "init" || startType(pre) != "init" || pw >= cw {
				t.Errorf("cold wait %d ms should exceed prewarm wait %d ms (both with an init)", cw, pw)
			}

			// Paused after the grace, resumed by the next run.
			time.Sleep(time.Second)
			again := invoke(t, c, "prewarm", `{"n":3}`)
			if startType(again) != "warm" || !again.Response.Success {
				t.Errorf("run after pause: %s %s", startType(again), again.Response.Status)
			}
		})
	}
}

// Bad input and faults: each ends as a record with the right status and a
// clear message, and the server goes on serving.
func TestContainerFaults(t *testing.T) {
	c := startContainerServe(t, "docker")
	cases := []struct {
		name, kind, code string
		edit             func(*entity.Action)
		status           int
		result           string // substring of the result
	}{
		{"syntax", "nodejs:20", "function main( {", nil, entity.StatusDeveloperError, "SyntaxError"},
		{"throws", "python:3", "def main(a):\n    raise ValueError('nope')\n", nil, entity.StatusApplication, "nope"},
		{"exits", "python:3", "import sys\ndef main(a):\n    sys.exit(3)\n", nil, entity.StatusDeveloperError, ""},
		{"notjson", "native", "#!/bin/sh\necho this is not json\n", nil, entity.StatusDeveloperError, ""},
		{"hangs", "nodejs:20", "function main() { while (true) {} }",
			func(a *entity.Action) { a.Limits.Timeout = 500 }, entity.StatusDeveloperError, "exceeded its time limits of 500 milliseconds"},
		{"hog", "nodejs:20", "function main() { const a = []; for (;;) a.push(new Array(1e6).fill(1)); }",
			func(a *entity.Action) { a.Limits.Memory = 128 }, entity.StatusDeveloperError, "exhausted its memory"},
		{"forks", "native", "#!/bin/sh\ni=0; while [ $i -lt 3000 ]; do sleep 5 & i=$((i+1)); done; echo '{\"ok\":true}'\n",
			func(a *entity.Action) { a.Limits.Timeout = 20000 }, -1, ""},
		{"floods", "nodejs:20", "function main() { for (let i = 0; i < 200000; i++) console.log('x'.repeat(100)); return {}; }",
			func(a *entity.Action) { a.Limits.Logs = 1 }, entity.StatusSuccess, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var edits []func(*entity.Action)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			put(t, c, tc.name, tc.kind, tc.code, edits...)
			a := invoke(t, c, tc.name, `{}`)
			if tc.status >= 0 && (a.Response.StatusCode != tc.status || !strings.Contains(string(a.Response.Result), tc.result)) {
				t.Fatalf("got %d %s, want %d with %q", a.Response.StatusCode, a.Response.Result, tc.status, tc.result)
			}
			t.Logf("%s: %s %s", tc.name, a.Response.Status, a.Response.Result)
			if tc.name == "floods" {
				var logs []string
				deadline := time.Now().Add(20 * time.Second)
				for time.Now().Before(deadline) {
					if logs, _ = c.Activations.Logs(context.Background(), a.ActivationID); len(logs) > 0 {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				if len(logs) == 0 || !strings.Contains(logs[len(logs)-1], "Logs were truncated") {
					t.Fatalf("flooded logs: %d lines, last %q", len(logs), last(logs))
				}
			}
		})
	}
	// Still serving.
	put(t, c, "fine", "nodejs:20", nodeHello)
	if a := invoke(t, c, "fine", `{"n":1}`); !a.Response.Success {
		t.Fatalf("after the faults: %s %s", a.Response.Status, a.Response.Result)
	}
	// A kind that does not exist is refused at create.
	a := &entity.Action{Name: "nokind", Exec: entity.Exec{Kind: "cobol:85", Code: "x"}}
	if _, err := c.Actions.Put(context.Background(), a, true); !client.HasStatus(err, 400) {
		t.Fatalf("unknown kind: %v, want 400", err)
	}
	// So is a backend that does not run the kind.
	b := &entity.Action{Name: "nobackend", Exec: entity.Exec{Kind: "native", Code: nativeHello},
		Annotations: entity.KeyValues{{Key: "backend", Value: json.RawMessage(`"wasm"`)}}}
	if _, err := c.Actions.Put(context.Background(), b, true); !client.HasStatus(err, 400) {
		t.Fatalf("backend that does not run the kind: %v, want 400", err)
	}
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}
