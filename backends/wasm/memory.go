package wasm

import (
	"math/bits"
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// Linear memory through our own allocator, for two reasons:
//
//   - Limits per sandbox with one shared Runtime: wazero's
//     WithMemoryLimitPages is per Runtime (and baked into compiled code), so
//     the limit lives here instead; a grow past it fails (memory.grow
//     returns -1) and the guest, not the host, pays.
//   - Pooling: without it every instance's memory is a fresh Go []byte, and
//     GC of those dominates the mean latency (reference/wasm.md §1.10: 2–3×
//     throughput with a pool).

const pageSize = 64 << 10

// memPool recycles linear-memory buffers in power-of-two size classes.
type memPool struct {
	classes [33]sync.Pool // class c holds buffers of cap 1<<c bytes
}

func newMemPool() *memPool { return &memPool{} }

// maxPooled caps the buffers kept: bigger ones go back to the GC.
const maxPooled = 256 << 20

func class(n uint64) int {
	if n <= pageSize {
		return 16
	}
	return bits.Len64(n - 1)
}

// get returns a buffer of length 0 and capacity at least n. Its contents are
// stale: linearMemory zeroes what it hands to the guest.
func (p *memPool) get(n uint64) []byte {
	c := class(n)
	if n <= maxPooled {
		if v := p.classes[c].Get(); v != nil {
			return (*v.(*[]byte))[:0]
		}
	}
	return make([]byte, 0, uint64(1)<<c)
}

func (p *memPool) put(b []byte) {
	n := uint64(cap(b))
	if n == 0 || n > maxPooled || n&(n-1) != 0 {
		return
	}
	b = b[:0]
	p.classes[class(n)].Put(&b)
}

// allocator hands out memories limited to limit bytes (0: wazero's max).
type allocator struct {
	pool  *memPool
	limit uint64
}

func (a allocator) Allocate(_, _ uint64) experimental.LinearMemory {
	return &linearMemory{pool: a.pool, limit: a.limit}
}

type linearMemory struct {
	pool  *memPool
	limit uint64
	buf   []byte
	grown bool
}

// Reallocate grows the memory to size bytes, or returns nil past the limit.
// The first call sizes the initial memory the module declares: it is always
// allowed, since Init already refused modules whose exported memory starts
// above the limit, and failing here would panic inside wazero.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if m.grown && m.limit > 0 && size > m.limit {
		return nil
	}
	m.grown = true
	old := uint64(len(m.buf))
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		if size > old {
			clear(m.buf[old:])
		}
		return m.buf
	}
	nb := m.pool.get(size)[:size]
	copy(nb, m.buf)
	clear(nb[old:])
	m.pool.put(m.buf)
	m.buf = nb
	return nb
}

func (m *linearMemory) Free() {
	m.pool.put(m.buf)
	m.buf = nil
}
