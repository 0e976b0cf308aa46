package main

import (
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runConformanceCLI runs `stoke conformance ...` as a user does and wants
// exit 0 (every MUST case passed) and JUnit XML with at least min cases and
// no failure, SHOULD cases included.
func runConformanceCLI(t *testing.T, min int, args ...string) {
	t.Helper()
	junit := filepath.Join(t.TempDir(), "junit.xml")
	args = append(append([]string{"conformance"}, args...), "--junit", junit)
	start := time.Now()
	if code := run(context.Background(), args); code != 0 {
		t.Fatalf("stoke %s exited %d; want 0 (every MUST case passes)", strings.Join(args, " "), code)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatalf("junit: %v\n%s", err, b)
	}
	if suites.Tests < min || suites.Failures != 0 {
		t.Fatalf("junit says %d tests, %d failures; want >= %d tests and no failure", suites.Tests, suites.Failures, min)
	}
	t.Logf("stoke %s: %d cases in %v", strings.Join(args, " "), suites.Tests, time.Since(start).Round(time.Millisecond))
}

func goBuild(t *testing.T, out, pkg string) string {
	t.Helper()
	if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// TestConformanceCLI runs both suites the way CI and plugin authors do:
// the runtime suite on the wasm runtime Stoke ships, the backend suite on
// the wasm backend built as a plugin binary and on the example third-party
// plugin (examples/process-backend), and the runtime suite on a proxy
// already listening (--endpoint).
func TestConformanceCLI(t *testing.T) {
	dir := t.TempDir()
	wasmPlugin := goBuild(t, filepath.Join(dir, "stoke-backend-wasm"), "../stoke-backend-wasm")
	proxy := goBuild(t, filepath.Join(dir, "stoke-proxy"), "../stoke-proxy")
	example := goBuild(t, filepath.Join(dir, "stoke-backend-process"), "../../examples/process-backend")
	// The example plugin finds the proxy through its environment; without
	// root it runs its sandboxes without namespaces, as its README says.
	t.Setenv("STOKE_PROXY_BIN", proxy)
	if os.Geteuid() != 0 {
		t.Setenv("STOKE_PROCESS_NAMESPACES", "false")
	}

	t.Run("runtime wasm", func(t *testing.T) {
		runConformanceCLI(t, 20, "runtime", "--kind", "wasm")
	})
	t.Run("backend wasm plugin", func(t *testing.T) {
		runConformanceCLI(t, 20, "backend", "--plugin", wasmPlugin, "--kind", "wasm")
	})
	t.Run("backend example process plugin", func(t *testing.T) {
		runConformanceCLI(t, 40, "backend", "--plugin", example, "--kind", "native")
	})
	t.Run("runtime endpoint", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "proxy.sock")
		cmd := exec.Command(proxy, "-addr=")
		cmd.Env = append(os.Environ(), "STOKE_PROXY_MODE=native", "STOKE_PROXY_SOCKET="+sock, "STOKE_ACTION_DIR="+t.TempDir())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for i := 0; ; i++ {
			if _, err := os.Stat(sock); err == nil {
				break
			}
			if i == 500 {
				t.Fatal("the proxy did not listen")
			}
			time.Sleep(10 * time.Millisecond)
		}
		runConformanceCLI(t, 20, "runtime", "--kind", "native", "--endpoint", "unix://"+sock)
	})

	for _, bad := range [][]string{
		{"conformance", "runtime"}, // no --kind
		{"conformance", "runtime", "--kind", "native", "--backend", "nope"}, // unknown backend
		{"conformance", "runtime", "--kind", "native", "--endpoint", "localhost:1"},
		{"conformance", "runtime", "--kind", "native", "--image", "x", "--backend", "runc"},
		{"conformance", "backend", "--plugin", example, "--image", "x"},
		{"conformance", "backend"}, // no --plugin
		{"conformance", "nope"},
	} {
		if code := run(context.Background(), bad); code == 0 {
			t.Errorf("stoke %s succeeded", strings.Join(bad, " "))
		}
	}
}

// TestConformanceContainers runs the suites on every container runtime and
// backend Stoke ships, through the real plugin binaries as the CLI does:
// on docker and on runc, the backend suite with kind native (which runs the
// runtime suite for native through it) and the runtime suite for nodejs:20
// and python:3 (python:3 on docker by --image, which checks the image path).
// With CI=true a missing engine fails the test instead of skipping it.
func TestConformanceContainers(t *testing.T) {
	runtimesDir := needEngines(t)
	pluginDir := containerPlugins(t)
	for _, backend := range []string{"docker", "runc"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel() // two engines, two cores
			dirs := []string{"--plugin-dir", pluginDir, "--runtimes-dir", runtimesDir}
			t.Run("backend native", func(t *testing.T) {
				runConformanceCLI(t, 40, append([]string{"backend", "--plugin", filepath.Join(pluginDir, "stoke-backend-"+backend), "--kind", "native"}, dirs...)...)
			})
			t.Run("runtime nodejs:20", func(t *testing.T) {
				runConformanceCLI(t, 30, append([]string{"runtime", "--kind", "nodejs:20", "--backend", backend}, dirs...)...)
			})
			t.Run("runtime python:3", func(t *testing.T) {
				args := []string{"runtime", "--kind", "python:3", "--backend", backend}
				if backend == "docker" {
					args = []string{"runtime", "--kind", "python:3", "--image", "stoke/runtime-python3:latest"}
				}
				runConformanceCLI(t, 30, append(args, dirs...)...)
			})
		})
	}
}
