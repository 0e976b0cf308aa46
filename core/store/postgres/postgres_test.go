package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
	"github.com/stokehq/stoke/core/store/postgres"
	"github.com/stokehq/stoke/core/store/postgres/pgtest"
	"github.com/stokehq/stoke/core/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openURL opens url and closes it when tb ends.
func openURL(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(tb.Context(), url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return db
}

func open(t *testing.T) store.Store { return openURL(t, pgtest.Database(t)) }

func TestStore(t *testing.T) { storetest.Run(t, open) }

// TestDurable: everything written survives closing every connection and
// reconnecting.
func TestDurable(t *testing.T) {
	ctx := t.Context()
	url := pgtest.Database(t)
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	id := &entity.Identity{Subject: "guest", Namespace: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey}
	a := storetest.NewAction("guest", "hello", "function main() {}\x00\xff binary tail")
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

	db = openURL(t, url)
	if got, err := db.Identity(ctx, entity.GuestUUID); err != nil || got.Key != entity.GuestKey {
		t.Errorf("identity after reconnect: %+v, %v", got, err)
	}
	if got, err := db.Action(ctx, "guest", "hello"); err != nil || got.Rev != 2 || got.Exec.Digest != storetest.Digest(a.Exec.Code) {
		t.Errorf("action after reconnect: %+v, %v", got, err)
	}
	if code, err := db.ActionCode(ctx, "guest", "hello", 2); err != nil || code != a.Exec.Code {
		t.Errorf("code after reconnect: %q, %v", code, err)
	}
	if got, err := db.Activation(ctx, "guest", "abc"); err != nil || got.Start != 42 {
		t.Errorf("activation after reconnect: %+v, %v", got, err)
	}
	if err := db.PutAction(ctx, storetest.NewAction("guest", "hello", "x"), 0); !errors.Is(err, store.ErrConflict) {
		t.Errorf("create over a stored action after reconnect: %v, want ErrConflict", err)
	}
}

// TestRaceAcrossHandles: writers in two pools (two processes of a
// cluster) updating from one revision: exactly one wins.
func TestRaceAcrossHandles(t *testing.T) {
	ctx := t.Context()
	url := pgtest.Database(t)
	dbs := []*postgres.DB{openURL(t, url), openURL(t, url)}
	if err := dbs[0].PutAction(ctx, storetest.NewAction("ns", "race", "v0"), 0); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		const writers = 8
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				errs[i] = dbs[i%2].PutAction(ctx, storetest.NewAction("ns", "race", fmt.Sprint("v", i)), int64(round+1))
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("round %d: %v, want nil or ErrConflict", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d racing updates won, want exactly 1", round, wins)
		}
	}
	// Racing creates too: one handle creates, the other conflicts.
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.PutAction(ctx, storetest.NewAction("ns", "fresh", "x"), 0) })
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), store.ErrConflict) {
		t.Errorf("racing creates: %v, want one nil and one ErrConflict", errs)
	}
	got, err := dbs[1].Action(ctx, "ns", "race")
	if err != nil || got.Rev != 6 {
		t.Errorf("after the races: %+v, %v; want rev 6", got, err)
	}
}

// TestConcurrentOpen: processes starting together migrate a fresh
// database once, and all of them open it.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.Database(t)
	const opens = 4
	errs := make([]error, opens)
	var wg sync.WaitGroup
	for i := range opens {
		wg.Go(func() {
			db, err := postgres.Open(t.Context(), url)
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	var rows, version int
	if err := query(t, url, `SELECT COUNT(*), MAX(version) FROM schema_version`, &rows, &version); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || version != 1 {
		t.Errorf("schema_version: %d rows, version %d; want 1 row at 1", rows, version)
	}
}

// TestSchemaTooNew: a binary never opens a database migrated by a newer
// one (it would misread the tables).
func TestSchemaTooNew(t *testing.T) {
	url := pgtest.Database(t)
	openURL(t, url)
	if err := query(t, url, `UPDATE schema_version SET version = 999`); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(t.Context(), url)
	if err == nil {
		db.Close()
		t.Fatal("opened a database with schema version 999")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %v, want it to say the schema is newer", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, c := range []struct{ name, url string }{
		{"empty", ""},
		{"garbage", "postgres://[::1"},
		{"not a url", "this is not a url"},
		{"nothing listening", "postgres://u:secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"},
		{"no such database", strings.Replace(pgtest.Database(t), "/stoke_test_", "/missing_", 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := postgres.Open(t.Context(), c.url)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", c.url)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

// TestBatch: a thousand records in one put, with a repeated ID (the last
// copy wins), all listed and counted.
func TestBatch(t *testing.T) {
	ctx := t.Context()
	db := openURL(t, pgtest.Database(t))
	var acts []*entity.Activation
	for i := range 1000 {
		acts = append(acts, storetest.NewActivation("ns", fmt.Sprint("a", i%7), fmt.Sprintf("id%04d", i), int64(i)))
	}
	dup := *acts[10]
	dup.Logs = []string{"second copy"}
	acts = append(acts, &dup)
	if err := db.PutActivations(ctx, acts); err != nil {
		t.Fatal(err)
	}
	n, err := db.CountActivations(ctx, store.ActivationQuery{Namespace: "ns"})
	if err != nil || n != 1000 {
		t.Errorf("count = %d, %v; want 1000", n, err)
	}
	got, err := db.Activation(ctx, "ns", "id0010")
	if err != nil || len(got.Logs) != 1 || got.Logs[0] != "second copy" {
		t.Errorf("repeated id: %+v, %v; want the last copy", got, err)
	}
	page, err := db.ListActivations(ctx, store.ActivationQuery{Namespace: "ns", Name: "a3", Limit: 3})
	if err != nil || len(page) != 3 || page[0].ActivationID != "id0997" {
		t.Errorf("newest of a3: %d records, first %v, %v", len(page), page, err)
	}
	// Re-putting the batch changes nothing.
	if err := db.PutActivations(ctx, acts); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.CountActivations(ctx, store.ActivationQuery{Namespace: "ns"}); n != 1000 {
		t.Errorf("count after retry = %d, want 1000", n)
	}
}

// TestBadBytes: strings PostgreSQL text cannot hold (NUL) fail with an
// error, never a panic, and a failed batch stores nothing.
func TestBadBytes(t *testing.T) {
	ctx := t.Context()
	db := openURL(t, pgtest.Database(t))
	good := storetest.NewActivation("ns", "a", "good", 1)
	bad := storetest.NewActivation("ns", "a\x00b", "bad", 2)
	if err := db.PutActivations(ctx, []*entity.Activation{good, bad}); err == nil {
		t.Error("stored a name with a NUL")
	}
	if _, err := db.Activation(ctx, "ns", "good"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a failed batch stored part of itself: %v", err)
	}
	if err := db.PutAction(ctx, storetest.NewAction("ns\x00", "a", "x"), 0); err == nil || errors.Is(err, store.ErrConflict) {
		t.Errorf("namespace with NUL: %v, want a plain error", err)
	}
	if _, err := db.Action(ctx, "ns", "a\x00"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("lookup with NUL: %v, want a plain error", err)
	}
}

// query runs sql on url in its own connection and scans one row into dst.
func query(t *testing.T, url, sql string, dst ...any) error {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if len(dst) == 0 {
		_, err = conn.Exec(ctx, sql)
		return err
	}
	return conn.QueryRow(ctx, sql).Scan(dst...)
}
