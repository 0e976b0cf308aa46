package bus

import "sync"

// Dedup remembers the last N activation ids a consumer handled, so a message
// delivered twice (Kafka is at-least-once: a redelivery after a rebalance or a
// commit that did not land) reaches the handler once. It is bounded: an id
// older than the last N is forgotten and a very late duplicate would pass, a
// window far larger than any redelivery burst. It is per consumer; a new
// process starts with an empty set.
type Dedup struct {
	mu   sync.Mutex
	seen map[string]struct{}
	ring []string
	next int
}

// NewDedup returns a set that remembers n ids (4096 if n <= 0).
func NewDedup(n int) *Dedup {
	if n <= 0 {
		n = 4096
	}
	return &Dedup{seen: make(map[string]struct{}, n), ring: make([]string, n)}
}

// Seen records id and reports whether it was already recorded. The empty id
// is never a duplicate: it identifies nothing.
func (d *Dedup) Seen(id string) bool {
	if id == "" {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.seen[id]; ok {
		return true
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.seen, old)
	}
	d.ring[d.next] = id
	d.next = (d.next + 1) % len(d.ring)
	d.seen[id] = struct{}{}
	return false
}
