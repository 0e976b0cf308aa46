// Package sqlite is the embedded, durable store.Store on SQLite (the pure
// Go modernc.org/sqlite driver, so no cgo). It is what `stoke serve` uses.
//
// The database runs in WAL mode with synchronous=NORMAL: readers never
// block the writer, and a commit costs no fsync of the main file (a power
// loss may drop the last commits, never corrupt the file). Writes go
// through one dedicated connection, so concurrent writers queue in Go
// instead of failing with SQLITE_BUSY; reads use a separate small pool.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers driver "sqlite"

	"github.com/stokehq/stoke/core/store"
)

// busyTimeoutMS bounds how long a connection waits for a lock held by
// another process (a second stoke on the same file, a checkpoint). Within
// one process the single writer connection already serialises writes.
const busyTimeoutMS = 5000

// DB is a store.Store backed by one SQLite file. It is safe for concurrent
// use.
type DB struct {
	path  string
	write *sql.DB // exactly one connection: the only writer
	read  *sql.DB // WAL readers

	// Prepared statements for the hot reads (the cache misses and the
	// activation GET).
	getIdentity   *sql.Stmt
	getAction     *sql.Stmt
	getCode       *sql.Stmt
	getActivation *sql.Stmt
}

var _ store.Store = (*DB)(nil)

// Open opens or creates the database at path, creating the parent
// directory if needed, and brings the schema up to date.
func Open(path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: need a plain file path (the reader and writer pools must share one file)", path)
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: open %q: path must not contain '?' or '#'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	opts := fmt.Sprintf("?_busy_timeout=%d&_journal_mode=WAL&_synchronous=NORMAL", busyTimeoutMS)
	// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
	// fails half-way when upgrading from a read lock.
	write, err := sql.Open("sqlite", path+opts+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	db := &DB{path: path, write: write}
	if err := db.migrate(context.Background()); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	// The readers open after the migration, so they never see the file
	// in its pre-WAL journal mode.
	read, err := sql.Open("sqlite", path+opts+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	n := max(2, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	db.read = read

	if err := db.prepare(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	return db, nil
}

func (db *DB) prepare() error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&db.getIdentity, `SELECT json FROM identities WHERE uuid = ?`},
		{&db.getAction, `SELECT rev, meta FROM actions WHERE namespace = ? AND name = ?`},
		{&db.getCode, `SELECT code FROM actions WHERE namespace = ? AND name = ? AND rev = ?`},
		{&db.getActivation, `SELECT json FROM activations WHERE namespace = ? AND activation_id = ?`},
	} {
		s, err := db.read.Prepare(p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = s
	}
	return nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// Close closes the database. A final checkpoint folds the WAL into the
// main file so that the file alone is a complete copy.
func (db *DB) Close() error {
	var errs []error
	for _, s := range []*sql.Stmt{db.getIdentity, db.getAction, db.getCode, db.getActivation} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if _, err := db.write.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		errs = append(errs, fmt.Errorf("checkpoint: %w", err))
	}
	errs = append(errs, db.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// notFound wraps store.ErrNotFound with what was looked up.
func notFound(what string, key ...string) error {
	return fmt.Errorf("sqlite: %s %s: %w", what, strings.Join(key, "/"), store.ErrNotFound)
}
