package main

import (
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestConformanceCLI runs both suites the way CI and plugin authors do:
// the runtime suite on the wasm runtime Stoke ships, and the backend suite
// on the wasm backend built as a plugin binary.
func TestConformanceCLI(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "stoke-backend-wasm")
	if out, err := exec.Command("go", "build", "-o", plugin, "../stoke-backend-wasm").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"runtime wasm", []string{"conformance", "runtime", "--kind", "wasm"}},
		{"backend wasm plugin", []string{"conformance", "backend", "--plugin", plugin, "--kind", "wasm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			junit := filepath.Join(t.TempDir(), "junit.xml")
			if code := run(context.Background(), append(tc.args, "--junit", junit)); code != 0 {
				t.Fatalf("stoke %v exited %d; want 0 (every MUST case passes)", tc.args, code)
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
			if suites.Tests < 20 || suites.Failures != 0 {
				t.Fatalf("junit says %d tests, %d failures", suites.Tests, suites.Failures)
			}
		})
	}
	if code := run(context.Background(), []string{"conformance", "runtime"}); code == 0 {
		t.Fatal("runtime without --kind succeeded")
	}
}
