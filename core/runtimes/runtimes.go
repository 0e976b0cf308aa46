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
	Backend string `json:"backend"`         // default backend name, e.g. "wasm", "docker"
	Image   string `json:"image,omitempty"` // container image, for container backends
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

// Only keeps the runtimes whose backend is in backends (the ones that
// loaded on this host).
func (m *Manifest) Only(backends map[string]bool) *Manifest {
	out := &Manifest{byKind: make(map[string]*Runtime)}
	for k, r := range m.byKind {
		if backends[r.Backend] {
			out.byKind[k] = r
		}
	}
	return out
}

// Builtin is the manifest Stoke ships. Kinds whose backend is not loaded
// are dropped at start with Only.
func Builtin() *Manifest {
	m, err := New(
		Runtime{Kind: "wasm", Backend: "wasm", Default: true, Sentinels: true},
	)
	if err != nil {
		panic(err)
	}
	return m
}
