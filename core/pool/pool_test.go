package pool

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func key(ns, action string) Key {
	return Key{Namespace: ns, Action: "/" + ns + "/" + action, Version: "0.0.1"}
}

func req(ns, action string, mem int) Request {
	return Request{Key: key(ns, action), Kind: "nodejs:20", MemoryMB: mem, Max: 1, CanPause: true}
}

func newPool(t testing.TB, mem int, pol Policy, stems ...StemCell) *Pool {
	t.Helper()
	p, err := New(Config{MemoryMB: mem, StemCells: stems}, pol)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// warmUp runs r once through a cold start and leaves its sandbox idle.
func warmUp(t testing.TB, p *Pool, r Request, now time.Time) ID {
	t.Helper()
	d := p.Acquire(r, now)
	if d.Kind != Cold {
		t.Fatalf("warm up %v: got %v, want cold", r.Key, d.Kind)
	}
	p.Created(d.Sandbox)
	p.Initialized(d.Sandbox)
	p.Release(d.Sandbox, true, now)
	return d.Sandbox
}

// busy runs r through a cold start and leaves it running.
func busy(t testing.TB, p *Pool, r Request, now time.Time) ID {
	t.Helper()
	d := p.Acquire(r, now)
	if d.Kind != Cold {
		t.Fatalf("busy %v: got %v, want cold", r.Key, d.Kind)
	}
	p.Created(d.Sandbox)
	p.Initialized(d.Sandbox)
	return d.Sandbox
}

// stemUp creates the configured stem cells.
func stemUp(p *Pool, now time.Time) []ID {
	var ids []ID
	for _, s := range p.Replenish(now, nil) {
		p.Created(s.ID)
		ids = append(ids, s.ID)
	}
	return ids
}

func TestNew(t *testing.T) {
	for _, c := range []Config{
		{MemoryMB: 0},
		{MemoryMB: -1},
		{MemoryMB: 256, StemCells: []StemCell{{Kind: "", MemoryMB: 256, Count: 1}}},
		{MemoryMB: 256, StemCells: []StemCell{{Kind: "x", MemoryMB: 0, Count: 1}}},
	} {
		if _, err := New(c, nil); err == nil {
			t.Errorf("New(%+v): want error", c)
		}
	}
}

func TestAcquire(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, p *Pool) []ID
		req   Request
		want  Kind
		// sandbox: index into setup's ids that must be chosen (-1: a new one)
		sandbox int
		evict   []int
	}{
		{
			name:    "reuse a warm container",
			setup:   func(t *testing.T, p *Pool) []ID { return []ID{warmUp(t, p, req("ns", "a", 256), at(0))} },
			req:     req("ns", "a", 256),
			want:    Warm,
			sandbox: 0,
		},
		{
			name:    "create a container if it cannot find a matching container",
			setup:   func(t *testing.T, p *Pool) []ID { return []ID{warmUp(t, p, req("ns", "a", 256), at(0))} },
			req:     req("ns", "b", 256),
			want:    Cold,
			sandbox: -1,
		},
		{
			name:    "not reuse a warm container with different invocation namespace",
			setup:   func(t *testing.T, p *Pool) []ID { return []ID{warmUp(t, p, req("ns", "a", 256), at(0))} },
			req:     Request{Key: Key{Namespace: "other", Action: "/ns/a", Version: "0.0.1"}, Kind: "nodejs:20", MemoryMB: 256},
			want:    Cold,
			sandbox: -1,
		},
		{
			name:    "not reuse a warm container with different action version",
			setup:   func(t *testing.T, p *Pool) []ID { return []ID{warmUp(t, p, req("ns", "a", 256), at(0))} },
			req:     Request{Key: Key{Namespace: "ns", Action: "/ns/a", Version: "0.0.2"}, Kind: "nodejs:20", MemoryMB: 256},
			want:    Cold,
			sandbox: -1,
		},
		{
			name: "not use a container when active activation count >= maxconcurrent",
			setup: func(t *testing.T, p *Pool) []ID {
				d := p.Acquire(req("ns", "a", 256), at(0))
				p.Created(d.Sandbox)
				p.Initialized(d.Sandbox)
				return []ID{d.Sandbox}
			},
			req:     req("ns", "a", 256),
			want:    Cold,
			sandbox: -1,
		},
		{
			name: "increase activation counts when scheduling to containers whose actions support concurrency",
			setup: func(t *testing.T, p *Pool) []ID {
				r := req("ns", "a", 256)
				r.Max = 2
				d := p.Acquire(r, at(0))
				p.Created(d.Sandbox)
				p.Initialized(d.Sandbox)
				return []ID{d.Sandbox}
			},
			req:     Request{Key: key("ns", "a"), Kind: "nodejs:20", MemoryMB: 256, Max: 2},
			want:    Warm,
			sandbox: 0,
		},
		{
			name: "remove a container to make space in the pool if it is already full and a different action arrives",
			setup: func(t *testing.T, p *Pool) []ID {
				return []ID{warmUp(t, p, req("ns", "a", 512), at(0)), warmUp(t, p, req("ns", "b", 512), at(1))}
			},
			req:     req("ns", "c", 512),
			want:    Cold,
			sandbox: -1,
			evict:   []int{0}, // the least recently used
		},
		{
			name: "remove several containers to make space in the pool if it is already full and a different large action arrives",
			setup: func(t *testing.T, p *Pool) []ID {
				return []ID{
					warmUp(t, p, req("ns", "a", 256), at(2)),
					warmUp(t, p, req("ns", "b", 256), at(0)),
					warmUp(t, p, req("ns", "c", 256), at(1)),
					warmUp(t, p, req("ns", "d", 256), at(3)),
				}
			},
			req:     req("ns", "e", 512),
			want:    Cold,
			sandbox: -1,
			evict:   []int{1, 2},
		},
		{
			name: "remove a container to make space when another action with different invocation namespace arrives",
			setup: func(t *testing.T, p *Pool) []ID {
				a, b := busy(t, p, req("ns", "a", 512), at(0)), busy(t, p, req("ns", "a", 512), at(0))
				p.Release(a, true, at(0))
				p.Release(b, true, at(1))
				return []ID{a, b}
			},
			req:     Request{Key: Key{Namespace: "other", Action: "/ns/a", Version: "0.0.1"}, Kind: "nodejs:20", MemoryMB: 512},
			want:    Cold,
			sandbox: -1,
			evict:   []int{0},
		},
		{
			name: "not start a new container if there is not enough space in the pool",
			setup: func(t *testing.T, p *Pool) []ID {
				d := p.Acquire(req("ns", "a", 1024), at(0)) // busy, never evicted
				return []ID{d.Sandbox}
			},
			req:  req("ns", "b", 256),
			want: Queue,
		},
		{
			name: "evict only idle containers (excluding concurrently busy)",
			setup: func(t *testing.T, p *Pool) []ID {
				busy := p.Acquire(req("ns", "a", 512), at(0)).Sandbox
				idle := warmUp(t, p, req("ns", "b", 512), at(5))
				return []ID{busy, idle}
			},
			req:     req("ns", "c", 512),
			want:    Cold,
			sandbox: -1,
			evict:   []int{1},
		},
		{
			name: "use a prewarmed container",
			setup: func(t *testing.T, p *Pool) []ID {
				return stemUp(p, at(0))
			},
			req:     req("ns", "a", 256),
			want:    Prewarm,
			sandbox: 0,
		},
		{
			name:    "not use a prewarmed container if it doesn't fit the kind",
			setup:   func(t *testing.T, p *Pool) []ID { return stemUp(p, at(0)) },
			req:     Request{Key: key("ns", "a"), Kind: "python:3", MemoryMB: 256},
			want:    Cold,
			sandbox: -1,
		},
		{
			name:    "not use a prewarmed container if it doesn't fit memory wise",
			setup:   func(t *testing.T, p *Pool) []ID { return stemUp(p, at(0)) },
			req:     req("ns", "a", 128),
			want:    Cold,
			sandbox: -1,
		},
		{
			name: "never evict prewarmed containers",
			setup: func(t *testing.T, p *Pool) []ID {
				// 1024 budget: one 256 stem cell + one busy 768.
				ids := stemUp(p, at(0))
				p.Acquire(req("ns", "x", 768), at(0))
				return ids
			},
			req:  req("ns", "b", 512),
			want: Queue,
		},
		{
			name: "prefer a running warm container to a paused one",
			setup: func(t *testing.T, p *Pool) []ID {
				a := warmUp(t, p, req("ns", "a", 256), at(0))
				p.Expire(at(100)) // pauses a
				p.Paused(a)
				b := p.Acquire(req("ns", "a", 256), at(101)).Sandbox // a resumed
				p.Resumed(b)
				c := p.Acquire(req("ns", "a", 256), at(101)).Sandbox // new cold one
				p.Created(c)
				p.Initialized(c)
				p.Release(c, true, at(102))
				p.Release(b, true, at(102))
				p.Expire(at(103)) // neither idle long enough
				return []ID{a, c}
			},
			req:     req("ns", "a", 256),
			want:    Warm,
			sandbox: 0, // a: running again since 101, used 102, same as c; any warm one is right
		},
		{
			name: "reject an action bigger than the whole budget",
			setup: func(t *testing.T, p *Pool) []ID {
				return nil
			},
			req:  req("ns", "huge", 2048),
			want: Reject,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, 1024, Default{PauseGrace: 10 * time.Second}, StemCell{Kind: "nodejs:20", MemoryMB: 256, Count: 1})
			ids := tc.setup(t, p)
			before := p.Len()
			d := p.Acquire(tc.req, at(10))
			if d.Kind != tc.want {
				t.Fatalf("kind = %v, want %v", d.Kind, tc.want)
			}
			switch {
			case tc.want == Queue || tc.want == Reject:
				if p.Len() != before {
					t.Errorf("sandboxes %d -> %d on %v", before, p.Len(), d.Kind)
				}
			case tc.sandbox == -1:
				if slices.Contains(ids, d.Sandbox) {
					t.Errorf("reused %d, want a new sandbox", d.Sandbox)
				}
				s, _ := p.Get(d.Sandbox)
				if s.State != Starting || s.Active != 1 || s.Key != tc.req.Key {
					t.Errorf("new sandbox = %+v", s)
				}
			case tc.name == "prefer a running warm container to a paused one":
				if s, _ := p.Get(d.Sandbox); s.State != Ready || d.Resume {
					t.Errorf("chose %+v (resume %v)", s, d.Resume)
				}
			default:
				if d.Sandbox != ids[tc.sandbox] {
					t.Errorf("sandbox = %d, want %d", d.Sandbox, ids[tc.sandbox])
				}
			}
			var wantEvict []ID
			for _, i := range tc.evict {
				wantEvict = append(wantEvict, ids[i])
			}
			if !slices.Equal(d.Evict, wantEvict) {
				t.Errorf("evict = %v, want %v", d.Evict, wantEvict)
			}
			for _, id := range d.Evict {
				if _, ok := p.Get(id); ok {
					t.Errorf("evicted %d still in the pool", id)
				}
			}
			if p.UsedMB() > p.CapacityMB() {
				t.Errorf("used %d MB > budget %d MB", p.UsedMB(), p.CapacityMB())
			}
		})
	}
}

func TestReuseWarmAfterRelease(t *testing.T) {
	p := newPool(t, 1024, nil)
	r := req("ns", "a", 256)
	id := warmUp(t, p, r, at(0))
	for i := range 3 {
		d := p.Acquire(r, at(i+1))
		if d.Kind != Warm || d.Sandbox != id {
			t.Fatalf("run %d: %+v", i, d)
		}
		p.Release(id, true, at(i+1))
	}
	if s, _ := p.Get(id); s.Active != 0 || s.LastUsed != at(3) {
		t.Errorf("after releases: %+v", s)
	}
}

func TestDestroyOnFailedRun(t *testing.T) {
	p := newPool(t, 512, nil)
	r := req("ns", "a", 256)
	id := warmUp(t, p, r, at(0))
	d := p.Acquire(r, at(1))
	p.Release(d.Sandbox, false, at(2))
	if _, ok := p.Get(id); ok || p.UsedMB() != 0 {
		t.Fatalf("sandbox kept after failed run: used %d", p.UsedMB())
	}
	if d := p.Acquire(r, at(3)); d.Kind != Cold {
		t.Errorf("next run: %v, want cold", d.Kind)
	}
}

func TestQueue(t *testing.T) {
	t.Run("process activations in the order they are arriving", func(t *testing.T) {
		p := newPool(t, 512, nil)
		a := busy(t, p, req("ns", "a", 512), at(0)) // fills the pool
		for i, name := range []string{"b", "c", "d"} {
			r := req("ns", name, 256)
			r.Ticket = i
			if d := p.Acquire(r, at(1)); d.Kind != Queue {
				t.Fatalf("%s: %v, want queue", name, d.Kind)
			}
		}
		if got := p.Drain(at(2)); len(got) != 0 {
			t.Fatalf("drained %d while full", len(got))
		}
		p.Release(a, true, at(3))
		got := p.Drain(at(3))
		// a (512, idle) is evicted for b; c then has 256 free; d waits.
		if len(got) != 2 || got[0].Ticket != 0 || got[1].Ticket != 1 {
			t.Fatalf("drained %+v", got)
		}
		if !slices.Equal(got[0].Decision.Evict, []ID{a}) || got[1].Decision.Kind != Cold {
			t.Errorf("decisions %+v", got)
		}
		if p.Queued() != 1 {
			t.Errorf("queued = %d, want 1", p.Queued())
		}
	})
	t.Run("a queued big action is not starved by newer small ones", func(t *testing.T) {
		p := newPool(t, 512, nil)
		small1 := p.Acquire(req("ns", "s1", 256), at(0)).Sandbox
		p.Acquire(req("ns", "s2", 256), at(0))
		big := req("ns", "big", 512)
		big.Ticket = "big"
		if d := p.Acquire(big, at(1)); d.Kind != Queue {
			t.Fatalf("big: %v", d.Kind)
		}
		p.Release(small1, false, at(2)) // 256 free: enough for a newer small one
		if d := p.Acquire(req("ns", "s3", 256), at(2)); d.Kind != Queue {
			t.Fatalf("small cut the queue: %v", d.Kind)
		}
		if got := p.Drain(at(2)); len(got) != 0 {
			t.Fatalf("drained %+v while big does not fit", got)
		}
	})
	t.Run("a warm hit may pass the queue", func(t *testing.T) {
		p := newPool(t, 512, nil)
		w := warmUp(t, p, req("ns", "w", 256), at(0))
		p.Acquire(req("ns", "busy", 256), at(0))
		if d := p.Acquire(req("ns", "big", 512), at(1)); d.Kind != Queue {
			t.Fatalf("big: %v", d.Kind)
		}
		if d := p.Acquire(req("ns", "w", 256), at(2)); d.Kind != Warm || d.Sandbox != w {
			t.Fatalf("warm: %+v", d)
		}
	})
	t.Run("process runbuffer when container is removed", func(t *testing.T) {
		p := newPool(t, 256, nil)
		a := p.Acquire(req("ns", "a", 256), at(0)).Sandbox
		r := req("ns", "b", 256)
		r.Ticket = "b"
		p.Acquire(r, at(0))
		p.Remove(a)
		got := p.Drain(at(1))
		if len(got) != 1 || got[0].Ticket != "b" || got[0].Decision.Kind != Cold {
			t.Fatalf("drained %+v", got)
		}
	})
	t.Run("process runbuffered items only once", func(t *testing.T) {
		p := newPool(t, 256, nil)
		a := busy(t, p, req("ns", "a", 256), at(0))
		r := req("ns", "a", 256)
		r.Ticket = 1
		p.Acquire(r, at(0))
		p.Release(a, true, at(1))
		if got := p.Drain(at(1)); len(got) != 1 || got[0].Decision.Kind != Warm {
			t.Fatalf("drained %+v", got)
		}
		if got := p.Drain(at(1)); len(got) != 0 {
			t.Fatalf("drained twice: %+v", got)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		p := newPool(t, 256, nil)
		p.Acquire(req("ns", "a", 256), at(0))
		r := req("ns", "b", 256)
		r.Ticket = "b"
		p.Acquire(r, at(0))
		if !p.Cancel("b") || p.Cancel("b") || p.Queued() != 0 {
			t.Fatal("cancel")
		}
	})
}

func TestPrewarm(t *testing.T) {
	stem := StemCell{Kind: "nodejs:20", MemoryMB: 256, Count: 2}
	t.Run("create prewarmed containers on startup", func(t *testing.T) {
		p := newPool(t, 1024, nil, stem)
		got := p.Replenish(at(0), nil)
		if len(got) != 2 || p.UsedMB() != 512 {
			t.Fatalf("replenish = %d sandboxes, used %d", len(got), p.UsedMB())
		}
		if more := p.Replenish(at(0), nil); len(more) != 0 {
			t.Errorf("starting stem cells were counted twice: %d more", len(more))
		}
	})
	t.Run("not create prewarm container when used memory reaches the limit", func(t *testing.T) {
		p := newPool(t, 384, nil, stem)
		if got := p.Replenish(at(0), nil); len(got) != 1 {
			t.Fatalf("replenish = %d, want 1", len(got))
		}
	})
	t.Run("use a prewarmed container and create a new one to fill its place", func(t *testing.T) {
		p := newPool(t, 1024, nil, stem)
		ids := stemUp(p, at(0))
		d := p.Acquire(req("ns", "a", 256), at(1))
		if d.Kind != Prewarm || d.Sandbox != ids[0] {
			t.Fatalf("got %+v, want the oldest stem cell %d", d, ids[0])
		}
		s, _ := p.Get(d.Sandbox)
		if s.State != Initializing || s.Stem || s.Key != key("ns", "a") {
			t.Errorf("taken stem cell = %+v", s)
		}
		if got := p.Replenish(at(1), nil); len(got) != 1 {
			t.Fatalf("backfill = %d, want 1", len(got))
		}
	})
	t.Run("backfill prewarms when prewarm containers are removed", func(t *testing.T) {
		p := newPool(t, 1024, nil, stem)
		ids := stemUp(p, at(0))
		p.Remove(ids[1])
		if got := p.Replenish(at(1), nil); len(got) != 1 {
			t.Fatalf("backfill = %d, want 1", len(got))
		}
	})
	t.Run("canPause is asked per kind", func(t *testing.T) {
		p := newPool(t, 1024, nil, stem)
		got := p.Replenish(at(0), func(kind string) bool { return kind == "nodejs:20" })
		if !got[0].CanPause {
			t.Error("stem cell should be pausable")
		}
	})
}

func TestExpire(t *testing.T) {
	pol := Default{PauseGrace: 10 * time.Second, KeepAlive: 600 * time.Second}
	tests := []struct {
		name        string
		idle        int // seconds since last use
		busy        bool
		canPause    bool
		paused      bool
		wantPause   bool
		wantDestroy bool
	}{
		{name: "keep a fresh idle container", idle: 5, canPause: true},
		{name: "pause after the grace", idle: 10, canPause: true, wantPause: true},
		{name: "never pause when the backend cannot", idle: 10},
		{name: "never pause a busy container", idle: 100, busy: true, canPause: true},
		{name: "destroy after the keep-alive", idle: 600, canPause: true, wantDestroy: true},
		{name: "destroy a paused one after the keep-alive", idle: 600, canPause: true, paused: true, wantDestroy: true},
		{name: "do not pause twice", idle: 30, canPause: true, paused: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, 1024, pol)
			r := req("ns", "a", 256)
			r.CanPause = tc.canPause
			id := warmUp(t, p, r, at(0))
			if tc.paused {
				p.Expire(at(10))
				p.Paused(id)
			}
			if tc.busy {
				p.Acquire(r, at(0))
			}
			pause, destroy := p.Expire(at(tc.idle))
			if got := slices.Contains(pause, id); got != tc.wantPause {
				t.Errorf("pause = %v, want %v", got, tc.wantPause)
			}
			if got := slices.Contains(destroy, id); got != tc.wantDestroy {
				t.Errorf("destroy = %v, want %v", got, tc.wantDestroy)
			}
			s, ok := p.Get(id)
			if tc.wantDestroy == ok {
				t.Errorf("in pool after destroy decision: %v", ok)
			}
			if tc.wantPause && s.State != Pausing {
				t.Errorf("state = %v, want pausing", s.State)
			}
		})
	}
	t.Run("run an action after pausing the container", func(t *testing.T) {
		p := newPool(t, 1024, pol)
		r := req("ns", "a", 256)
		id := warmUp(t, p, r, at(0))
		p.Expire(at(10))
		if d := p.Acquire(r, at(11)); d.Kind != Cold {
			t.Fatalf("while pausing: %v, want cold (a pausing sandbox is not usable)", d.Kind)
		}
		p.Paused(id)
		r2 := req("ns", "a", 256)
		r2.Max = 2
		d := p.Acquire(r, at(12))
		if d.Kind != Warm || d.Sandbox != id || !d.Resume {
			t.Fatalf("paused hit: %+v", d)
		}
		if d2 := p.Acquire(r, at(12)); d2.Sandbox == id {
			t.Fatal("a resuming sandbox was shared")
		}
		p.Resumed(id)
		if s, _ := p.Get(id); s.State != Ready || s.Resuming || s.Active != 1 {
			t.Errorf("after resume: %+v", s)
		}
	})
	t.Run("prewarms never expire", func(t *testing.T) {
		p := newPool(t, 1024, pol, StemCell{Kind: "nodejs:20", MemoryMB: 256, Count: 1})
		stemUp(p, at(0))
		if pause, destroy := p.Expire(at(10000)); len(pause)+len(destroy) != 0 {
			t.Errorf("pause %v destroy %v", pause, destroy)
		}
	})
}

func TestMemoryAccounting(t *testing.T) {
	p := newPool(t, 1024, nil, StemCell{Kind: "nodejs:20", MemoryMB: 128, Count: 2})
	stemUp(p, at(0))
	a := warmUp(t, p, req("ns", "a", 256), at(1))
	if p.UsedMB() != 512 || p.FreeMB() != 512 || p.Len() != 3 {
		t.Fatalf("used %d free %d len %d", p.UsedMB(), p.FreeMB(), p.Len())
	}
	p.Remove(a)
	p.Remove(a) // unknown ids are ignored
	if p.UsedMB() != 256 || p.Len() != 2 || len(p.ByKey(key("ns", "a"))) != 0 {
		t.Fatalf("after remove: used %d len %d", p.UsedMB(), p.Len())
	}
}

func BenchmarkAcquireWarm(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("sandboxes=%d", n), func(b *testing.B) {
			p := newPool(b, n*256, nil)
			for i := range n {
				warmUp(b, p, req("ns", fmt.Sprintf("a%d", i), 256), at(0))
			}
			r := req("ns", fmt.Sprintf("a%d", n/2), 256)
			b.ReportAllocs()
			for b.Loop() {
				d := p.Acquire(r, t0)
				p.Release(d.Sandbox, true, t0)
			}
		})
	}
}

func BenchmarkAcquireEvict(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("sandboxes=%d", n), func(b *testing.B) {
			p := newPool(b, n*256, nil)
			for i := range n {
				warmUp(b, p, req("ns", fmt.Sprintf("a%d", i), 256), at(i))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				d := p.Acquire(req("ns", "new", 256), at(n+i))
				if d.Kind != Cold || len(d.Evict) != 1 {
					b.Fatalf("%+v", d)
				}
				p.Created(d.Sandbox)
				p.Initialized(d.Sandbox)
				p.Release(d.Sandbox, false, at(n+i)) // keep the pool full of old ones
				warmUp(b, p, req("ns", fmt.Sprintf("b%d", i), 256), at(n+i))
			}
		})
	}
}
