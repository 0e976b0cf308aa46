// Package runtimes is the runtime manifest: which kinds exist, which
// backend runs each by default, and how many prewarmed stem cells of which
// memory size the pool keeps for it.
package runtimes

import (
	"fmt"
	"sort"
)

// Runtime describes one kind.
type Runtime struct {
	Kind    string `json:"kind"`
	Backend string `json:"backend"` // default backend name, e.g. "wasm", "docker"
	// Backends are all the loaded backends that run this kind, the default
	// first; an action picks another with the "backend" annotation.
	Backends []string `json:"backends,omitempty"`
	Image    string   `json:"image,omitempty"` // container image, for container backends
	// Default is true for the kind that "family:default" resolves to.
	Default bool `json:"default,omitempty"`
	// StemCells are prewarmed sandboxes kept ready: Count sandboxes of
	// MemoryMB each.
	StemCells []StemCell `json:"stemCells,omitempty"`
	// Sentinels is false for runtimes that write no log sentinels
	// (blackbox images), so log collection does not wait for them.
	Sentinels bool `json:"sentinelledLogs"`
}

// StemCell is a prewarm configuration.
type StemCell struct {
	Count    int `json:"count"`
	MemoryMB int `json:"memory"`
}

// Manifest maps kinds to runtimes.
type Manifest struct {
	byKind map[string]*Runtime
}

// New builds a manifest; kinds must be unique.
func New(rs ...Runtime) (*Manifest, error) {
	m := &Manifest{byKind: make(map[string]*Runtime, len(rs))}
	for i := range rs {
		r := rs[i]
		if r.Kind == "" || r.Backend == "" {
			return nil, fmt.Errorf("runtime %d: kind and backend are required", i)
		}
		if _, dup := m.byKind[r.Kind]; dup {
			return nil, fmt.Errorf("runtime %q listed twice", r.Kind)
		}
		m.byKind[r.Kind] = &r
	}
	return m, nil
}

// Lookup returns the runtime for kind.
func (m *Manifest) Lookup(kind string) (*Runtime, bool) {
	r, ok := m.byKind[kind]
	return r, ok
}

// All returns the runtimes sorted by kind.
func (m *Manifest) All() []*Runtime {
	out := make([]*Runtime, 0, len(m.byKind))
	for _, r := range m.byKind {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// BackendAnnotation is the action annotation that picks a backend other
// than the kind's default, for example {"key": "backend", "value": "runc"}.
const BackendAnnotation = "backend"

// Container is the placeholder backend of the container kinds in Builtin:
// Resolve replaces it with the configured container backend.
const Container = "container"

// Builtin is the manifest Stoke ships. Resolve fits it to the backends
// that loaded on this host.
func Builtin() *Manifest {
	m, err := New(
		Runtime{Kind: "wasm", Backend: "wasm", Default: true, Sentinels: true},
		Runtime{Kind: "nodejs:20", Backend: Container, Image: "stoke/runtime-nodejs20:latest", Default: true,
			Sentinels: true, StemCells: []StemCell{{Count: 2, MemoryMB: 256}}},
		Runtime{Kind: "python:3", Backend: Container, Image: "stoke/runtime-python3:latest", Default: true,
			Sentinels: true, StemCells: []StemCell{{Count: 1, MemoryMB: 256}}},
		// Executables with OpenWhisk's docker-skeleton semantics (argv[1]
		// in, last stdout line out); Stoke's proxy still writes sentinels.
		Runtime{Kind: "native", Backend: Container, Image: "stoke/runtime-native:latest", Default: true, Sentinels: true},
	)
	if err != nil {
		panic(err)
	}
	return m
}

// Resolve fits a manifest to the loaded backends: kinds maps each loaded
// backend to the kinds its Info declares. Each runtime gets the list of
// backends that run it; the default is its own backend (Container means
// container) when loaded, else the first that runs it. Kinds no loaded
// backend runs are dropped.
func (m *Manifest) Resolve(kinds map[string][]string, container string) *Manifest {
	out := &Manifest{byKind: make(map[string]*Runtime)}
	for k, r := range m.byKind {
		var names []string
		for name, ks := range kinds {
			for _, x := range ks {
				if x == k {
					names = append(names, name)
				}
			}
		}
		if len(names) == 0 {
			continue
		}
		sort.Strings(names)
		def := r.Backend
		if def == Container {
			def = container
		}
		i := sort.SearchStrings(names, def)
		if i == len(names) || names[i] != def {
			def = names[0]
		} else {
			names = append(append([]string{def}, names[:i]...), names[i+1:]...)
		}
		rr := *r
		rr.Backend, rr.Backends = def, names
		out.byKind[k] = &rr
	}
	return out
}

// Runs reports whether backend runs kind.
func (r *Runtime) Runs(backend string) bool {
	for _, b := range r.Backends {
		if b == backend {
			return true
		}
	}
	return backend == r.Backend
}
