package pool

import (
	"fmt"
	"time"
)

// StemCell asks the pool to keep Count created, uninitialised sandboxes of
// Kind and MemoryMB ready. Stem cells count against the memory budget.
type StemCell struct {
	Kind     string
	MemoryMB int
	Count    int
}

// Config sizes a pool.
type Config struct {
	MemoryMB  int // the budget: the sum of sandbox memory limits
	StemCells []StemCell
}

// Placement is a queued request that can now run.
type Placement struct {
	Ticket   any
	Request  Request
	Decision Decision
}

// Pool holds the sandboxes of one invoker and the queue of waiting
// requests, and applies a Policy's decisions to them.
type Pool struct {
	cfg    Config
	policy Policy
	next   ID
	used   int // MB reserved by all sandboxes, starting ones included

	list  []*Sandbox
	byID  map[ID]*Sandbox
	byKey map[Key][]*Sandbox
	queue []Request
}

// New returns an empty pool. A nil policy means Default{} (no pause, no
// keep-alive limit).
func New(cfg Config, policy Policy) (*Pool, error) {
	if cfg.MemoryMB <= 0 {
		return nil, fmt.Errorf("pool: memory budget must be positive, got %d MB", cfg.MemoryMB)
	}
	for _, sc := range cfg.StemCells {
		if sc.Kind == "" || sc.MemoryMB <= 0 || sc.Count < 0 {
			return nil, fmt.Errorf("pool: bad stem cell %+v", sc)
		}
	}
	if policy == nil {
		policy = Default{}
	}
	return &Pool{cfg: cfg, policy: policy, byID: make(map[ID]*Sandbox), byKey: make(map[Key][]*Sandbox)}, nil
}

// CapacityMB is the memory budget.
func (p *Pool) CapacityMB() int { return p.cfg.MemoryMB }

// UsedMB is the memory reserved by sandboxes.
func (p *Pool) UsedMB() int { return p.used }

// FreeMB is what is left of the budget.
func (p *Pool) FreeMB() int { return p.cfg.MemoryMB - p.used }

// All returns every sandbox, in no particular order. Read only.
func (p *Pool) All() []*Sandbox { return p.list }

// ByKey returns the sandboxes bound to k. Read only.
func (p *Pool) ByKey(k Key) []*Sandbox { return p.byKey[k] }

// Get returns a copy of a sandbox.
func (p *Pool) Get(id ID) (Sandbox, bool) {
	s, ok := p.byID[id]
	if !ok {
		return Sandbox{}, false
	}
	return *s, true
}

// Queued is the number of waiting requests.
func (p *Pool) Queued() int { return len(p.queue) }

// Acquire places req. On Queue the request is kept and comes back from a
// later Drain.
//
// While others wait, a new request may still take a warm sandbox or a stem
// cell: neither uses memory the queue head could use (the head would have
// been served by Drain otherwise), so small actions cannot starve a big one
// at the head. It never cold-starts or evicts past the queue.
func (p *Pool) Acquire(req Request, now time.Time) Decision {
	if req.Max < 1 {
		req.Max = 1
	}
	d := p.policy.Place(p, req)
	if len(p.queue) > 0 && d.Kind == Cold {
		d = Decision{Kind: Queue}
	}
	if d.Kind == Queue {
		p.queue = append(p.queue, req)
		return d
	}
	return p.apply(&req, d, now)
}

// Drain serves waiting requests in order while the head fits.
func (p *Pool) Drain(now time.Time) []Placement {
	var out []Placement
	for len(p.queue) > 0 {
		req := p.queue[0]
		d := p.policy.Place(p, req)
		if d.Kind == Queue {
			break
		}
		p.queue[0] = Request{}
		p.queue = p.queue[1:]
		d = p.apply(&req, d, now)
		out = append(out, Placement{Ticket: req.Ticket, Request: req, Decision: d})
	}
	if len(p.queue) == 0 {
		p.queue = nil // let the backing array go
	}
	return out
}

// Cancel removes a waiting request by ticket and reports whether it was
// there.
func (p *Pool) Cancel(ticket any) bool {
	for i, r := range p.queue {
		if r.Ticket == ticket {
			p.queue = append(p.queue[:i], p.queue[i+1:]...)
			return true
		}
	}
	return false
}

// DrainAll empties the queue (on shutdown) and returns what was in it.
func (p *Pool) DrainAll() []Request {
	q := p.queue
	p.queue = nil
	return q
}

func (p *Pool) apply(req *Request, d Decision, now time.Time) Decision {
	switch d.Kind {
	case Warm:
		s := p.byID[d.Sandbox]
		s.Active++
		s.LastUsed = now
		if s.State == Paused {
			s.State = Ready
			s.Resuming = true
		}
	case Prewarm:
		s := p.byID[d.Sandbox]
		s.State = Initializing
		s.Stem = false
		s.Key = req.Key
		s.Active = 1
		s.Max = req.Max
		s.LastUsed = now
		p.byKey[s.Key] = append(p.byKey[s.Key], s)
	case Cold:
		for _, id := range d.Evict {
			p.Remove(id)
		}
		s := p.add(req.Kind, req.MemoryMB, req.CanPause, now)
		s.Key = req.Key
		s.Active = 1
		s.Max = req.Max
		p.byKey[s.Key] = append(p.byKey[s.Key], s)
		d.Sandbox = s.ID
	}
	return d
}

func (p *Pool) add(kind string, mem int, canPause bool, now time.Time) *Sandbox {
	p.next++
	s := &Sandbox{ID: p.next, Kind: kind, MemoryMB: mem, State: Starting, Max: 1,
		CanPause: canPause, Created: now, LastUsed: now, pos: len(p.list)}
	p.list = append(p.list, s)
	p.byID[s.ID] = s
	p.used += mem
	return s
}

// Created records that Backend.Create finished: a stem cell becomes
// Prewarm, a cold sandbox moves on to Initializing.
func (p *Pool) Created(id ID) {
	s, ok := p.byID[id]
	if !ok || s.State != Starting {
		return
	}
	if s.Stem {
		s.State = Prewarmed
	} else {
		s.State = Initializing
	}
}

// Initialized records a successful /init: the sandbox is warm and, if its
// action allows concurrency, shareable while its first run goes on.
func (p *Pool) Initialized(id ID) {
	if s, ok := p.byID[id]; ok && s.State == Initializing {
		s.State = Ready
	}
}

// Release ends one activation in a sandbox. With keep false the sandbox
// is removed (the invoker destroys it). Call Drain afterwards.
func (p *Pool) Release(id ID, keep bool, now time.Time) {
	s, ok := p.byID[id]
	if !ok {
		return
	}
	if s.Active > 0 {
		s.Active--
	}
	s.LastUsed = now
	if !keep {
		p.Remove(id)
		return
	}
	if s.State == Initializing { // released without a successful init
		s.State = Ready
	}
}

// Resumed records that a paused sandbox runs again.
func (p *Pool) Resumed(id ID) {
	if s, ok := p.byID[id]; ok {
		s.Resuming = false
	}
}

// Paused records that a Pause finished.
func (p *Pool) Paused(id ID) {
	if s, ok := p.byID[id]; ok && s.State == Pausing {
		s.State = Paused
	}
}

// Unpaused records that a Pause failed and the sandbox still runs.
func (p *Pool) Unpaused(id ID) {
	if s, ok := p.byID[id]; ok && s.State == Pausing {
		s.State = Ready
	}
}

// Remove drops a sandbox and frees its memory. Unknown ids are ignored.
func (p *Pool) Remove(id ID) {
	s, ok := p.byID[id]
	if !ok {
		return
	}
	delete(p.byID, id)
	last := p.list[len(p.list)-1]
	p.list[s.pos] = last
	last.pos = s.pos
	p.list[len(p.list)-1] = nil
	p.list = p.list[:len(p.list)-1]
	p.used -= s.MemoryMB
	if s.Key != (Key{}) {
		ks := p.byKey[s.Key]
		for i, k := range ks {
			if k == s {
				ks = append(ks[:i], ks[i+1:]...)
				break
			}
		}
		if len(ks) == 0 {
			delete(p.byKey, s.Key)
		} else {
			p.byKey[s.Key] = ks
		}
	}
}

// Expire asks the policy which idle sandboxes to pause and destroy, marks
// the first Pausing and removes the second. The invoker calls
// Backend.Pause then Paused (or Unpaused), and Backend.Destroy.
func (p *Pool) Expire(now time.Time) (pause, destroy []ID) {
	pause, destroy = p.policy.Expire(p, now)
	for _, id := range pause {
		if s, ok := p.byID[id]; ok && s.State == Ready && s.Active == 0 {
			s.State = Pausing
		}
	}
	for _, id := range destroy {
		p.Remove(id)
	}
	return pause, destroy
}

// Replenish reserves the stem cells missing from the configured counts, as
// far as memory allows, and returns them in state Starting for the invoker
// to create (then Created, or Remove on failure).
func (p *Pool) Replenish(now time.Time, canPause func(kind string) bool) []Sandbox {
	var out []Sandbox
	for _, sc := range p.cfg.StemCells {
		have := 0
		for _, s := range p.list {
			if s.Stem && s.Kind == sc.Kind && s.MemoryMB == sc.MemoryMB {
				have++
			}
		}
		for ; have < sc.Count && sc.MemoryMB <= p.FreeMB(); have++ {
			s := p.add(sc.Kind, sc.MemoryMB, canPause != nil && canPause(sc.Kind), now)
			s.Stem = true
			out = append(out, *s)
		}
	}
	return out
}

// Len is the number of sandboxes, starting ones included.
func (p *Pool) Len() int { return len(p.list) }
