// Package pool is the invoker's container pool policy, as pure values: it
// tracks sandboxes and a memory budget and decides where an activation runs
// (warm > prewarm > cold > evict then cold > queue), which idle sandboxes
// to pause or destroy, and which stem cells to start. It does no I/O, starts
// no goroutines and never reads the clock: the invoker passes the time in
// and carries out the decisions, so the same pool can be replayed against a
// trace to compare keep-alive policies.
//
// A Pool is not safe for concurrent use; the invoker guards it with one
// mutex, which is cheap because every method is a few map and slice
// operations.
package pool

import "time"

// ID names a sandbox inside the pool. The pool assigns it when it reserves
// memory, before the backend has created anything.
type ID uint64

// State is where a sandbox is in its life.
type State uint8

const (
	// Starting: Backend.Create is in flight. Its memory is reserved.
	Starting State = iota
	// Prewarmed: a created stem cell, not yet initialised with any action.
	Prewarmed
	// Initializing: taken for an action, /init in flight. Not shareable yet.
	Initializing
	// Ready: initialised for Key. Busy when Active > 0, idle otherwise.
	Ready
	// Pausing: the backend is freezing it; not usable until Paused.
	Pausing
	// Paused: frozen and idle; a warm hit resumes it.
	Paused
)

func (s State) String() string {
	switch s {
	case Starting:
		return "starting"
	case Prewarmed:
		return "prewarmed"
	case Initializing:
		return "initializing"
	case Ready:
		return "ready"
	case Pausing:
		return "pausing"
	case Paused:
		return "paused"
	}
	return "unknown"
}

// Key is what a warm sandbox is bound to. Two activations share a sandbox
// only if their keys are equal: OpenWhisk compares the invocation
// namespace and the whole action; we compare its name, version and code
// digest, so an update that keeps the version never reaches old code.
type Key struct {
	Namespace string // the invoking namespace, not the action's
	Action    string // fully qualified name, "/ns/[pkg/]name"
	Version   string
	Digest    string // code digest; may be empty
}

// Sandbox is the pool's view of one sandbox. Policies read it; only the
// Pool changes it.
type Sandbox struct {
	ID       ID
	Kind     string
	MemoryMB int
	State    State
	Key      Key  // zero for a stem cell
	Stem     bool // created as a stem cell and not yet taken
	Active   int  // activations running in it
	Max      int  // concurrency limit (at least 1)
	CanPause bool // its backend can pause it
	Resuming bool // a Resume is in flight: no room for others until Resumed
	LastUsed time.Time
	Created  time.Time

	pos int // index in Pool.list
}

// Idle reports whether the sandbox is initialised and runs nothing.
func (s *Sandbox) Idle() bool {
	return (s.State == Ready || s.State == Paused) && s.Active == 0
}

// HasCapacity reports whether a warm hit may use the sandbox now.
func (s *Sandbox) HasCapacity() bool {
	switch s.State {
	case Ready:
		return !s.Resuming && s.Active < s.Max
	case Paused:
		return true
	}
	return false
}
