package runtimes

import (
	"reflect"
	"testing"
)

func TestResolve(t *testing.T) {
	loaded := map[string][]string{
		"wasm":   {"wasm"},
		"docker": {"nodejs:20", "python:3", "native"},
		"runc":   {"nodejs:20", "python:3"},
	}
	for _, tc := range []struct {
		name      string
		container string
		loaded    map[string][]string
		want      map[string][]string // kind -> backends, default first
	}{
		{"docker default", "docker", loaded, map[string][]string{
			"wasm": {"wasm"}, "nodejs:20": {"docker", "runc"}, "python:3": {"docker", "runc"}, "native": {"docker"}}},
		{"runc default", "runc", loaded, map[string][]string{
			"wasm": {"wasm"}, "nodejs:20": {"runc", "docker"}, "python:3": {"runc", "docker"}, "native": {"docker"}}},
		{"no docker", "docker", map[string][]string{"wasm": {"wasm"}, "runc": {"nodejs:20"}}, map[string][]string{
			"wasm": {"wasm"}, "nodejs:20": {"runc"}}},
		{"wasm only", "docker", map[string][]string{"wasm": {"wasm"}}, map[string][]string{"wasm": {"wasm"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Builtin().Resolve(tc.loaded, tc.container)
			got := map[string][]string{}
			for _, r := range m.All() {
				got[r.Kind] = r.Backends
				if r.Backend != r.Backends[0] {
					t.Errorf("%s: default %q is not first of %v", r.Kind, r.Backend, r.Backends)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRuns(t *testing.T) {
	m := Builtin().Resolve(map[string][]string{"docker": {"nodejs:20"}, "runc": {"nodejs:20"}}, "docker")
	r, _ := m.Lookup("nodejs:20")
	if !r.Runs("runc") || !r.Runs("docker") || r.Runs("wasm") {
		t.Fatalf("Runs wrong for %+v", r)
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(Runtime{Kind: "a", Backend: "x"}, Runtime{Kind: "a", Backend: "y"}); err == nil {
		t.Error("duplicate kind accepted")
	}
	if _, err := New(Runtime{Kind: "a"}); err == nil {
		t.Error("runtime without backend accepted")
	}
}
