package balancer

import (
	"fmt"
	"time"
)

// State is an invoker's health as one controller sees it.
type State int

const (
	// Offline: no ping for OfflineAfter, or it said it is disabled.
	Offline State = iota
	// Unhealthy: too many system errors among its recent completions.
	Unhealthy
	// Healthy: takes activations.
	Healthy
)

func (s State) String() string {
	switch s {
	case Offline:
		return "offline"
	case Unhealthy:
		return "unhealthy"
	case Healthy:
		return "healthy"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// window and tolerance are OpenWhisk's bufferSize and bufferErrorTolerance:
// more than 3 system errors in the last 10 completions is unhealthy.
const (
	window    = 10
	tolerance = 3
)

// invoker is the controller's view of one invoker.
type invoker struct {
	id       int
	lastPing time.Time
	enabled  bool
	capacity int // MB this controller may place there
	used     int // MB placed and not released; may exceed capacity

	results   [window]bool // true: a system error
	n, next   int          // results held, next write
	sickSince time.Time    // when it turned unhealthy; zero if not
}

// result records one completion; it may turn the invoker unhealthy.
func (v *invoker) result(systemError bool, now time.Time) {
	v.results[v.next] = systemError
	v.next = (v.next + 1) % window
	v.n = min(v.n+1, window)
	if v.errors() > tolerance {
		if v.sickSince.IsZero() {
			v.sickSince = now
		}
	} else {
		v.sickSince = time.Time{}
	}
}

func (v *invoker) errors() int {
	n := 0
	for i := 0; i < v.n; i++ {
		if v.results[i] {
			n++
		}
	}
	return n
}

// clear forgets the results: a new start or a new chance.
func (v *invoker) clear() {
	v.results = [window]bool{}
	v.n, v.next = 0, 0
	v.sickSince = time.Time{}
}

// state evaluates the FSM at now. An unhealthy invoker past probeAfter
// gets a clean slate (the caller's lock makes this safe).
func (v *invoker) state(now time.Time, offlineAfter, probeAfter time.Duration) State {
	if !v.enabled || v.lastPing.IsZero() || now.Sub(v.lastPing) > offlineAfter {
		return Offline
	}
	if !v.sickSince.IsZero() {
		if now.Sub(v.sickSince) < probeAfter {
			return Unhealthy
		}
		v.clear()
	}
	return Healthy
}
