package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stokehq/stoke/conformance"
)

// TestConformance runs Stoke's backend suite on this backend in-process,
// the way a plugin author tests a plugin in their own repository (the CLI,
// `stoke conformance backend --plugin`, checks the built binary).
func TestConformance(t *testing.T) {
	proxy := filepath.Join(t.TempDir(), "stoke-proxy")
	if out, err := exec.Command("go", "build", "-o", proxy, "../../cmd/stoke-proxy").CombinedOutput(); err != nil {
		t.Fatalf("build the proxy: %v\n%s", err, out)
	}
	env := map[string]string{"STOKE_PROXY_BIN": proxy, "STOKE_PROCESS_DIR": t.TempDir()}
	if os.Geteuid() != 0 {
		env["STOKE_PROCESS_NAMESPACES"] = "false"
	}
	b, err := newBackend(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	conformance.RunBackendTarget(t, conformance.BackendTarget{Backend: b, Kind: Kind})
}

func TestConfig(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no proxy": {"STOKE_PROXY_BIN": "/nonexistent/stoke-proxy"},
		"bad dir":  {"STOKE_PROXY_BIN": "/bin/sh", "STOKE_PROCESS_DIR": "/proc/nope"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := newBackend(func(k string) string { return env[k] }); err == nil {
				t.Error("no error")
			}
		})
	}
}
