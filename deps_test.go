// Package stoke_test guards the shape of the module: which packages may
// depend on what, and that every package says what it is for.
package stoke_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Doc        string
	Imports    []string
	Deps       []string
	Standard   bool
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-e", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

const module = "github.com/stokehq/stoke"

// Backends own their engines: the platform must never link docker, runc or
// wazero, so that a controller stays small and a backend can be swapped.
var backendOnly = []string{
	"github.com/docker/docker",
	"github.com/moby/moby",
	"github.com/opencontainers/runc",
	"github.com/tetratelabs/wazero",
}

func TestCoreDoesNotLinkBackends(t *testing.T) {
	for _, p := range listPackages(t) {
		if !strings.HasPrefix(p.ImportPath, module+"/core") &&
			!strings.HasPrefix(p.ImportPath, module+"/sdk") &&
			!strings.HasPrefix(p.ImportPath, module+"/plugins") &&
			!strings.HasPrefix(p.ImportPath, module+"/conformance") {
			continue
		}
		for _, d := range p.Deps {
			// Backends come from callers (plugins or cmd/ wiring).
			if strings.HasPrefix(d, module+"/backends/") {
				t.Errorf("%s depends on %s: take backends from the caller instead", p.ImportPath, d)
			}
			for _, bad := range backendOnly {
				if d == bad || strings.HasPrefix(d, bad+"/") {
					t.Errorf("%s depends on %s: only backends/ may", p.ImportPath, d)
				}
			}
		}
	}
}

// The sdk is what third-party plugin authors import: it must stay light.
var sdkAllowed = []string{
	"github.com/hashicorp/go-plugin",
	"github.com/hashicorp/go-hclog",
	"google.golang.org/grpc",
	"google.golang.org/protobuf",
	module + "/sdk",
}

func TestSDKImportsStayLight(t *testing.T) {
	for _, p := range listPackages(t) {
		if !strings.HasPrefix(p.ImportPath, module+"/sdk") {
			continue
		}
	imports:
		for _, imp := range p.Imports {
			if !strings.Contains(strings.Split(imp, "/")[0], ".") {
				continue // standard library
			}
			for _, ok := range sdkAllowed {
				if imp == ok || strings.HasPrefix(imp, ok+"/") {
					continue imports
				}
			}
			t.Errorf("%s imports %s; the sdk may import only %v and the standard library", p.ImportPath, imp, sdkAllowed)
		}
	}
}

func TestEveryPackageHasDoc(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.Doc == "" && p.ImportPath != module {
			t.Errorf("%s has no package doc comment", p.ImportPath)
		}
	}
}

// The example plugin shows what a third-party backend needs: the sdk and
// the standard library, nothing else of Stoke's.
func TestExamplePluginImportsOnlySDK(t *testing.T) {
	const example = module + "/examples/process-backend"
	found := false
	for _, p := range listPackages(t) {
		if p.ImportPath != example {
			continue
		}
		found = true
		for _, imp := range p.Imports {
			if strings.Contains(strings.Split(imp, "/")[0], ".") && imp != module+"/sdk" {
				t.Errorf("%s imports %s; the example plugin may import only %s/sdk and the standard library", example, imp, module)
			}
		}
	}
	if !found {
		t.Errorf("package %s not found", example)
	}
}
