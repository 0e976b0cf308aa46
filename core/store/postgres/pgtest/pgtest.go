// Package pgtest runs a private, throwaway PostgreSQL server for tests:
// initdb into a temporary directory, a postgres process listening on
// 127.0.0.1 (a free port) and on a unix socket in that directory, with
// fsync off because the data dies with the test anyway. Each test gets
// its own fresh database on the shared server.
//
// Tests use it in two steps:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		url := pgtest.Database(t) // a new, empty database
//		...
//	}
//
// The server starts on the first Database call, so a test binary that
// runs no PostgreSQL test pays nothing, and Main stops it after the
// tests. Start gives a test its own server instead (the cluster tests).
//
// Without the PostgreSQL binaries (Debian package postgresql) tests skip
// with a loud message, or fail when CI=true, so CI never passes by
// skipping. STOKE_PG_BIN names the directory of initdb and postgres when
// they are not in $PATH or /usr/lib/postgresql/*/bin.
// STOKE_TEST_POSTGRES_URL points Database at an existing server instead
// (a URL of a role that may create databases: each test makes its own).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable that selects an existing server over a
// private one.
const EnvURL = "STOKE_TEST_POSTGRES_URL"

// ErrNotInstalled: no PostgreSQL binaries were found.
var ErrNotInstalled = errors.New("PostgreSQL binaries not found (install the Debian package: apt-get install -y postgresql)")

var shared struct {
	once sync.Once
	srv  *Server
	url  string // admin URL of the server the tests use
	err  error
}

// Main runs the tests of a package that uses Database, stops the shared
// server afterwards, and exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stop: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// Database creates a new, empty database on the shared server (started on
// first use) and returns its URL; the database is dropped when t ends.
// Without PostgreSQL, t skips (fails with CI=true).
func Database(tb testing.TB) string {
	tb.Helper()
	shared.once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			shared.url = u
			return
		}
		shared.srv, shared.err = StartServer()
		if shared.err == nil {
			shared.url = shared.srv.URL("postgres")
		}
	})
	if shared.err != nil {
		unavailable(tb, shared.err)
	}
	db, drop, err := createDatabase(tb.Context(), shared.url)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := drop(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return db
}

// Start starts a private server for tb with one empty database and
// returns that database's URL. The server stops when tb ends, or earlier
// by calling stop (which is idempotent).
func Start(tb testing.TB) (dbURL string, stop func()) {
	tb.Helper()
	srv, err := StartServer()
	if err != nil {
		unavailable(tb, err)
	}
	stop = sync.OnceFunc(func() {
		if err := srv.Stop(); err != nil {
			tb.Errorf("pgtest: stop: %v", err)
		}
	})
	tb.Cleanup(stop)
	dbURL, _, err = createDatabase(tb.Context(), srv.URL("postgres"))
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return dbURL, stop
}

var announce sync.Once

// unavailable skips tb loudly, or fails it in CI, where a missing
// PostgreSQL is a broken machine rather than a developer's laptop.
func unavailable(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true" {
		announce.Do(func() { fmt.Fprintf(os.Stderr, "pgtest: SKIPPING PostgreSQL tests: %v\n", err) })
		tb.Skipf("pgtest: SKIPPING: %v", err)
	}
	tb.Fatalf("pgtest: no PostgreSQL server: %v", err)
}

// createDatabase creates a randomly named database through the admin URL
// and returns its URL and a function that drops it.
func createDatabase(ctx context.Context, adminURL string) (string, func() error, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("admin URL %q: want postgres://user@host:port/db", adminURL)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "stoke_test_" + hex.EncodeToString(b[:])

	exec := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	// template0 and C collation: every test database sorts like SQLite's
	// binary comparison whatever the server's locale.
	if err := exec(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// FORCE: a test that leaked a connection must not keep its
		// database alive.
		if err := exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}
