package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
	"github.com/stokehq/stoke/core/store/sqlite"
	"github.com/stokehq/stoke/core/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "stoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) { storetest.Run(t, open) }

// TestDurable: everything written survives a close and reopen.
func TestDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "dir", "stoke.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	id := &entity.Identity{Subject: "guest", Namespace: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey}
	a := storetest.NewAction("guest", "hello", "function main() {}")
	act := storetest.NewActivation("guest", "hello", "abc", 42)
	for _, err := range []error{
		db.PutIdentity(ctx, id),
		db.PutAction(ctx, a, 0),
		db.PutAction(ctx, a, a.Rev),
		db.PutActivations(ctx, []*entity.Activation{act}),
		db.Close(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}

	db, err = sqlite.Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if got, err := db.Identity(ctx, entity.GuestUUID); err != nil || got.Key != entity.GuestKey {
		t.Errorf("identity after reopen: %+v, %v", got, err)
	}
	if got, err := db.Action(ctx, "guest", "hello"); err != nil || got.Rev != 2 || got.Exec.Digest != storetest.Digest(a.Exec.Code) {
		t.Errorf("action after reopen: %+v, %v", got, err)
	}
	if code, err := db.ActionCode(ctx, "guest", "hello", 2); err != nil || code != a.Exec.Code {
		t.Errorf("code after reopen: %q, %v", code, err)
	}
	if got, err := db.Activation(ctx, "guest", "abc"); err != nil || got.Start != 42 {
		t.Errorf("activation after reopen: %+v, %v", got, err)
	}
	// Create after reopen still detects the existing action.
	if err := db.PutAction(ctx, storetest.NewAction("guest", "hello", "x"), 0); !errors.Is(err, store.ErrConflict) {
		t.Errorf("create over a reopened action: %v, want ErrConflict", err)
	}
}

// TestConcurrentWriters: many goroutines writing at once through two
// handles on one file never see SQLITE_BUSY, and nothing is lost.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stoke.db")
	var dbs [2]*sqlite.DB
	for i := range dbs {
		db, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*3)
	for w := range writers {
		db := dbs[w%2]
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := db.PutActivations(ctx, []*entity.Activation{storetest.NewActivation("ns", "a", id, int64(i))}); err != nil {
					errs <- err
				}
				if err := db.PutAction(ctx, storetest.NewAction("ns", id, "x"), 0); err != nil {
					errs <- err
				}
				if _, err := db.Action(ctx, "ns", id); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n, err := dbs[0].CountActivations(ctx, store.ActivationQuery{Namespace: "ns"})
	if err != nil || n != writers*each {
		t.Errorf("activations = %d, %v; want %d", n, err, writers*each)
	}
	n, err = dbs[1].CountActions(ctx, "ns")
	if err != nil || n != writers*each {
		t.Errorf("actions = %d, %v; want %d", n, err, writers*each)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte("this is not a database, just some text padding it out to a page"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, path string }{
		{"empty", ""},
		{"memory", ":memory:"},
		{"uri", "file:x.db"},
		{"query", filepath.Join(dir, "x.db?mode=ro")},
		{"parent is a file", filepath.Join(notDir, "x.db")},
		{"not a database", garbage},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := sqlite.Open(c.path)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", c.path)
			}
		})
	}
}

// TestSchemaTooNew: a binary never opens a database migrated by a newer
// one (it would misread the tables).
func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stoke.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE schema_version SET version = 999`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if db, err := sqlite.Open(path); err == nil {
		db.Close()
		t.Fatal("opened a database with schema version 999")
	}
}
