// Package cache keeps the entities of the invocation path in memory, so
// that a warm invoke reads no database: it wraps a store.Store and serves
// Identity, Action and ActionCode from a bigcache (off the Go heap, so a
// large cache costs the garbage collector nothing).
//
// Consistency: writes go to the store first and then invalidate the keys
// they touch. A lookup that misses reads the store and fills the cache
// only if no invalidation happened meanwhile, so a slow reader can never
// put back a revision that a writer has just replaced. Code entries are
// keyed by revision. Not-found results are not cached. Another process's
// writes are seen after Invalidate (driven by a bus message) or, at the
// latest, when the entry's life window ends.
package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allegro/bigcache/v3"

	"github.com/stokehq/stoke/core/store"
)

// Config sizes the cache. The zero value gives the defaults.
type Config struct {
	// SizeMiB bounds the cache memory (default 64). The oldest entries are
	// evicted beyond it.
	SizeMiB int
	// LifeWindow is how long an entry is served before the store is read
	// again (default 10 minutes).
	LifeWindow time.Duration
	// MaxCodeBytes is the largest action code kept (default 1 MiB); larger
	// code is read from the store each time it is needed (cold starts only).
	MaxCodeBytes int
}

const (
	defaultSizeMiB      = 64
	defaultLifeWindow   = 10 * time.Minute
	defaultMaxCodeBytes = 1 << 20
)

func (c Config) withDefaults() (Config, error) {
	if c.SizeMiB < 0 || c.LifeWindow < 0 || c.MaxCodeBytes < 0 {
		return c, fmt.Errorf("cache: negative size %d MiB, life window %v or max code %d bytes", c.SizeMiB, c.LifeWindow, c.MaxCodeBytes)
	}
	if c.SizeMiB == 0 {
		c.SizeMiB = defaultSizeMiB
	}
	if c.LifeWindow == 0 {
		c.LifeWindow = defaultLifeWindow
	}
	if c.MaxCodeBytes == 0 {
		c.MaxCodeBytes = defaultMaxCodeBytes
	}
	if int64(c.SizeMiB)<<20 < 4*int64(c.MaxCodeBytes) {
		return c, fmt.Errorf("cache: size %d MiB is below 4 × max code bytes %d", c.SizeMiB, c.MaxCodeBytes)
	}
	return c, nil
}

// Store is a store.Store that caches the reads of the invocation path.
type Store struct {
	store.Store // the rest passes through
	cfg         Config
	bc          *bigcache.BigCache

	// epoch counts invalidations; see fill.
	epoch atomic.Uint64

	// codeRevs remembers which revisions of an action's code are cached,
	// so that invalidating the action drops them all.
	mu       sync.Mutex
	codeRevs map[string][]int64
}

var _ store.Store = (*Store)(nil)

// New wraps s. The returned Store owns s: its Close closes s.
func New(s store.Store, cfg Config) (*Store, error) {
	if s == nil {
		return nil, errors.New("cache: nil store")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	bc, err := bigcache.New(context.Background(), bigConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &Store{Store: s, cfg: cfg, bc: bc, codeRevs: map[string][]int64{}}, nil
}

// bigConfig translates cfg. bigcache splits the memory bound evenly among
// its shards and rejects an entry larger than a shard, so the shard count
// is chosen to leave each shard room for several of the largest entries.
func bigConfig(cfg Config) bigcache.Config {
	size := int64(cfg.SizeMiB) << 20
	shards := 1
	for shards < 256 && size/int64(shards*2) >= 4*int64(cfg.MaxCodeBytes) {
		shards *= 2
	}
	c := bigcache.DefaultConfig(cfg.LifeWindow)
	c.Shards = shards
	c.HardMaxCacheSize = cfg.SizeMiB
	// Expired entries are skipped on read (see entry.go); the clean-up
	// only gives their memory back.
	c.CleanWindow = max(cfg.LifeWindow/2, time.Second)
	c.MaxEntriesInWindow = 10_000
	c.MaxEntrySize = 1024
	c.StatsEnabled = false
	c.Verbose = false
	return c
}

// Stats are bigcache's hit and miss counters.
func (c *Store) Stats() bigcache.Stats { return c.bc.Stats() }

// Close drops the cache and closes the wrapped store.
func (c *Store) Close() error {
	return errors.Join(c.bc.Close(), c.Store.Close())
}

// fill reads with load and caches the result unless an invalidation ran
// meanwhile. It closes the race where a reader loads revision 1, a writer
// stores revision 2 and invalidates, and the reader then caches revision 1:
// the writer bumps the epoch before deleting, the reader re-checks the
// epoch after setting and deletes its own entry if it moved.
func fill[T any](c *Store, key string, load func() (T, error), encode func(T) []byte) (T, error) {
	e := c.epoch.Load()
	v, err := load()
	if err != nil {
		return v, err
	}
	if b := encode(v); b != nil {
		// A failed Set (entry larger than a shard) only costs a later miss.
		_ = c.bc.Set(key, b)
		if c.epoch.Load() != e {
			_ = c.bc.Delete(key)
		}
	}
	return v, nil
}

// drop removes keys after a write; see fill for why the epoch moves first.
func (c *Store) drop(keys ...string) {
	c.epoch.Add(1)
	for _, k := range keys {
		_ = c.bc.Delete(k) // ErrEntryNotFound is fine
	}
}
