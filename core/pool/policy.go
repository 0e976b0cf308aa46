package pool

import (
	"slices"
	"time"
)

// Kind says what a Decision does.
type Kind uint8

const (
	// Queue: nothing fits now; the request waits in FIFO order.
	Queue Kind = iota
	// Warm: run in Sandbox, already initialised for the key (resume it
	// first if Decision.Resume).
	Warm
	// Prewarm: initialise the stem cell Sandbox, then run.
	Prewarm
	// Cold: create Sandbox (reserved in state Starting), initialise, run.
	// Evict lists idle sandboxes removed to make room; destroy them.
	Cold
	// Reject: the request can never fit (more memory than the budget).
	Reject
)

func (k Kind) String() string {
	switch k {
	case Queue:
		return "queue"
	case Warm:
		return "warm"
	case Prewarm:
		return "prewarm"
	case Cold:
		return "cold"
	case Reject:
		return "reject"
	}
	return "unknown"
}

// Request is one activation asking for a sandbox.
type Request struct {
	Key      Key
	Kind     string // runtime kind
	MemoryMB int
	Max      int  // concurrency limit of the action; <1 means 1
	CanPause bool // the backend for Kind can pause
	// Ticket is the caller's handle, returned with a Placement when a
	// queued request is served.
	Ticket any
}

// Decision is where a request runs. The pool has already applied it to
// its state when it is returned.
type Decision struct {
	Kind    Kind
	Sandbox ID
	Evict   []ID
	Resume  bool // Warm on a paused sandbox: resume it before /run
}

// Policy decides. Implementations read the pool and return values; the
// Pool applies them. A policy must not modify the pool or its sandboxes.
type Policy interface {
	// Place chooses where req runs. Kind Cold must come with enough
	// memory: FreeMB plus the memory of Evict covers req.MemoryMB.
	Place(p *Pool, req Request) Decision
	// Expire lists idle sandboxes to pause and to destroy at now.
	Expire(p *Pool, now time.Time) (pause, destroy []ID)
}

// Default is OpenWhisk's policy: warm (same key, room left) > prewarm
// (same kind, exactly the same memory) > cold if memory allows > evict
// the least recently used idle sandboxes (never busy ones, never stem
// cells) and then cold > queue. Idle sandboxes pause after PauseGrace and
// are destroyed after KeepAlive of idleness.
type Default struct {
	PauseGrace time.Duration // 0: never pause
	KeepAlive  time.Duration // 0: keep forever
}

var _ Policy = Default{}

func (d Default) Place(p *Pool, req Request) Decision {
	if s := d.warm(p, req); s != nil {
		return Decision{Kind: Warm, Sandbox: s.ID, Resume: s.State == Paused}
	}
	if s := d.prewarm(p, req); s != nil {
		return Decision{Kind: Prewarm, Sandbox: s.ID}
	}
	if req.MemoryMB > p.CapacityMB() {
		return Decision{Kind: Reject}
	}
	free := p.FreeMB()
	if req.MemoryMB <= free {
		return Decision{Kind: Cold}
	}
	evict := d.evict(p, req.MemoryMB-free)
	if evict == nil {
		return Decision{Kind: Queue}
	}
	return Decision{Kind: Cold, Evict: evict}
}

// warm prefers a running sandbox with room over a paused one, so that a
// resume is paid only when nothing else fits.
func (Default) warm(p *Pool, req Request) *Sandbox {
	var paused *Sandbox
	for _, s := range p.ByKey(req.Key) {
		if s.MemoryMB != req.MemoryMB || !s.HasCapacity() {
			continue
		}
		if s.State == Ready {
			return s
		}
		if paused == nil || s.LastUsed.After(paused.LastUsed) {
			paused = s
		}
	}
	return paused
}

// prewarm takes the oldest matching stem cell (OpenWhisk takes the one
// that expires first, which is the same thing without a ttl).
func (Default) prewarm(p *Pool, req Request) *Sandbox {
	var best *Sandbox
	for _, s := range p.All() {
		if s.State == Prewarmed && s.Kind == req.Kind && s.MemoryMB == req.MemoryMB {
			if best == nil || s.Created.Before(best.Created) {
				best = s
			}
		}
	}
	return best
}

// evict returns least recently used idle sandboxes whose memory adds up to
// need, or nil if all idle ones together are not enough (then evicting
// would only destroy warm state for nothing).
func (Default) evict(p *Pool, need int) []ID {
	var idle []*Sandbox
	total := 0
	for _, s := range p.All() {
		if s.Idle() && !s.Resuming {
			idle = append(idle, s)
			total += s.MemoryMB
		}
	}
	if total < need {
		return nil
	}
	slices.SortFunc(idle, func(a, b *Sandbox) int { return a.LastUsed.Compare(b.LastUsed) })
	var out []ID
	for _, s := range idle {
		if need <= 0 {
			break
		}
		out = append(out, s.ID)
		need -= s.MemoryMB
	}
	return out
}

func (d Default) Expire(p *Pool, now time.Time) (pause, destroy []ID) {
	for _, s := range p.All() {
		if !s.Idle() || s.Resuming {
			continue
		}
		idle := now.Sub(s.LastUsed)
		switch {
		case d.KeepAlive > 0 && idle >= d.KeepAlive:
			destroy = append(destroy, s.ID)
		case d.PauseGrace > 0 && s.CanPause && s.State == Ready && idle >= d.PauseGrace:
			pause = append(pause, s.ID)
		}
	}
	return pause, destroy
}
