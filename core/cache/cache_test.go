package cache_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stokehq/stoke/core/cache"
	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
	"github.com/stokehq/stoke/core/store/sqlite"
	"github.com/stokehq/stoke/core/store/storetest"
)

// counting is the real sqlite store with a count of the reads that reach
// it.
type counting struct {
	store.Store
	identity, action, code atomic.Int64
}

func (c *counting) Identity(ctx context.Context, uuid string) (*entity.Identity, error) {
	c.identity.Add(1)
	return c.Store.Identity(ctx, uuid)
}

func (c *counting) Action(ctx context.Context, ns, name string) (*entity.Action, error) {
	c.action.Add(1)
	return c.Store.Action(ctx, ns, name)
}

func (c *counting) ActionCode(ctx context.Context, ns, name string, rev int64) (string, error) {
	c.code.Add(1)
	return c.Store.ActionCode(ctx, ns, name, rev)
}

func openDB(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "stoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newCache(t testing.TB, cfg cache.Config) (*cache.Store, *counting) {
	t.Helper()
	under := &counting{Store: openDB(t)}
	c, err := cache.New(under, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, under
}

// TestStore: the cache is itself a store.Store and keeps the contract.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		c, _ := newCache(t, cache.Config{})
		return c
	})
}

func TestHitsSkipTheStore(t *testing.T) {
	ctx := context.Background()
	c, under := newCache(t, cache.Config{})
	id := &entity.Identity{Subject: "guest", Namespace: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey}
	a := storetest.NewAction("guest", "hello", "function main() {}")
	if err := c.PutIdentity(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := c.PutAction(ctx, a, 0); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		got, err := c.Identity(ctx, entity.GuestUUID)
		if err != nil || got.Key != entity.GuestKey {
			t.Fatalf("identity: %+v, %v", got, err)
		}
		act, err := c.Action(ctx, "guest", "hello")
		if err != nil || act.Rev != 1 || act.Exec.Digest != storetest.Digest(a.Exec.Code) || act.Exec.Code != "" {
			t.Fatalf("action: %+v, %v", act, err)
		}
		code, err := c.ActionCode(ctx, "guest", "hello", act.Rev)
		if err != nil || code != a.Exec.Code {
			t.Fatalf("code: %q, %v", code, err)
		}
	}
	for _, n := range []struct {
		what string
		got  int64
	}{{"identity", under.identity.Load()}, {"action", under.action.Load()}, {"code", under.code.Load()}} {
		if n.got != 1 {
			t.Errorf("%s reads reaching the store = %d, want 1", n.what, n.got)
		}
	}
}

func TestInvalidation(t *testing.T) {
	ctx := context.Background()
	c, under := newCache(t, cache.Config{})
	a := storetest.NewAction("ns", "f", "v1")
	if err := c.PutAction(ctx, a, 0); err != nil {
		t.Fatal(err)
	}
	warm := func() *entity.Action {
		t.Helper()
		got, err := c.Action(ctx, "ns", "f")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ActionCode(ctx, "ns", "f", got.Rev); err != nil {
			t.Fatal(err)
		}
		return got
	}
	warm()

	t.Run("update", func(t *testing.T) {
		b := storetest.NewAction("ns", "f", "v2")
		if err := c.PutAction(ctx, b, 1); err != nil {
			t.Fatal(err)
		}
		got := warm()
		if got.Rev != 2 || got.Exec.Digest != storetest.Digest("v2") {
			t.Errorf("after update: rev %d digest %s, want rev 2 and the new digest", got.Rev, got.Exec.Digest)
		}
		// The old revision's code is gone, as in the store.
		if _, err := c.ActionCode(ctx, "ns", "f", 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("code of replaced revision: %v, want ErrNotFound", err)
		}
		if code, err := c.ActionCode(ctx, "ns", "f", 2); err != nil || code != "v2" {
			t.Errorf("code rev 2 = %q, %v", code, err)
		}
	})

	t.Run("conflict drops the cached copy", func(t *testing.T) {
		// Another process moves the action on behind the cache's back.
		stale := storetest.NewAction("ns", "f", "v3")
		if err := under.Store.PutAction(ctx, stale, 2); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.Action(ctx, "ns", "f"); got.Rev != 2 {
			t.Fatalf("cached rev = %d, want the stale 2 (test setup)", got.Rev)
		}
		if err := c.PutAction(ctx, storetest.NewAction("ns", "f", "v4"), 2); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("put at stale rev: %v, want ErrConflict", err)
		}
		if got, _ := c.Action(ctx, "ns", "f"); got.Rev != 3 {
			t.Errorf("rev after conflict = %d, want 3", got.Rev)
		}
	})

	t.Run("explicit invalidate", func(t *testing.T) {
		if err := under.Store.PutAction(ctx, storetest.NewAction("ns", "f", "v5"), 3); err != nil {
			t.Fatal(err)
		}
		c.Invalidate("ns", "f")
		got := warm()
		if got.Rev != 4 {
			t.Errorf("rev after Invalidate = %d, want 4", got.Rev)
		}
		if _, err := c.ActionCode(ctx, "ns", "f", 3); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("code of rev 3 after Invalidate: %v, want ErrNotFound", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if _, err := c.DeleteAction(ctx, "ns", "f"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Action(ctx, "ns", "f"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("action after delete: %v, want ErrNotFound", err)
		}
		if _, err := c.ActionCode(ctx, "ns", "f", 4); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("code after delete: %v, want ErrNotFound", err)
		}
	})

	t.Run("not found is not cached", func(t *testing.T) {
		before := under.action.Load()
		for range 3 {
			if _, err := c.Action(ctx, "ns", "later"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("missing action: %v", err)
			}
		}
		if n := under.action.Load() - before; n != 3 {
			t.Errorf("misses reaching the store = %d, want 3", n)
		}
		if err := c.PutAction(ctx, storetest.NewAction("ns", "later", "x"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Action(ctx, "ns", "later"); err != nil {
			t.Errorf("action after create: %v", err)
		}
	})

	t.Run("identity", func(t *testing.T) {
		id := &entity.Identity{Subject: "s", Namespace: "ns", UUID: "u1", Key: "k1"}
		if err := c.PutIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.Identity(ctx, "u1"); got.Key != "k1" {
			t.Fatalf("key = %q", got.Key)
		}
		id.Key = "k2"
		if err := c.PutIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.Identity(ctx, "u1"); got.Key != "k2" {
			t.Errorf("key after put = %q, want k2", got.Key)
		}
		id.Key = "k3"
		if err := under.Store.PutIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
		c.InvalidateIdentity("u1")
		if got, _ := c.Identity(ctx, "u1"); got.Key != "k3" {
			t.Errorf("key after InvalidateIdentity = %q, want k3", got.Key)
		}
	})
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	c, under := newCache(t, cache.Config{LifeWindow: 50 * time.Millisecond})
	if err := c.PutAction(ctx, storetest.NewAction("ns", "f", "v1"), 0); err != nil {
		t.Fatal(err)
	}
	c.Action(ctx, "ns", "f")
	// Changed behind the cache's back and never invalidated: seen once the
	// entry expires.
	if err := under.Store.PutAction(ctx, storetest.NewAction("ns", "f", "v2"), 1); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Action(ctx, "ns", "f"); got.Rev != 1 {
		t.Fatalf("rev before expiry = %d, want the cached 1", got.Rev)
	}
	time.Sleep(80 * time.Millisecond)
	if got, _ := c.Action(ctx, "ns", "f"); got.Rev != 2 {
		t.Errorf("rev after expiry = %d, want 2", got.Rev)
	}
}

func TestLargeCodeNotCached(t *testing.T) {
	ctx := context.Background()
	c, under := newCache(t, cache.Config{SizeMiB: 1, MaxCodeBytes: 1024})
	small := storetest.NewAction("ns", "small", strings.Repeat("s", 1024))
	large := storetest.NewAction("ns", "large", strings.Repeat("l", 1025))
	for _, a := range []*entity.Action{small, large} {
		if err := c.PutAction(ctx, a, 0); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			code, err := c.ActionCode(ctx, "ns", a.Name, 1)
			if err != nil || code != a.Exec.Code {
				t.Fatalf("%s: %d bytes, %v", a.Name, len(code), err)
			}
		}
	}
	// small: 1 read; large: 3.
	if n := under.code.Load(); n != 4 {
		t.Errorf("code reads reaching the store = %d, want 4", n)
	}
}

// TestNoStaleFill races readers against writers: once the writers stop,
// the cache must serve the final revision.
func TestNoStaleFill(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t, cache.Config{})
	if err := c.PutAction(ctx, storetest.NewAction("ns", "f", "v"), 0); err != nil {
		t.Fatal(err)
	}
	const updates = 50
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					c.Action(ctx, "ns", "f")
				}
			}
		})
	}
	for rev := int64(1); rev <= updates; rev++ {
		if err := c.PutAction(ctx, storetest.NewAction("ns", "f", "v"), rev); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if got, _ := c.Action(ctx, "ns", "f"); got.Rev != updates+1 {
		t.Errorf("rev after race = %d, want %d", got.Rev, updates+1)
	}
}

func TestConfigErrors(t *testing.T) {
	db := openDB(t)
	defer db.Close()
	for _, cfg := range []cache.Config{
		{SizeMiB: -1},
		{LifeWindow: -time.Second},
		{MaxCodeBytes: -1},
		{SizeMiB: 1, MaxCodeBytes: 1 << 20},
	} {
		if c, err := cache.New(db, cfg); err == nil {
			c.Close()
			t.Errorf("New with %+v succeeded", cfg)
		}
	}
	if _, err := cache.New(nil, cache.Config{}); err == nil {
		t.Error("New with a nil store succeeded")
	}
}
