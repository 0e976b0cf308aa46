// Package postgres is the store.Store on PostgreSQL, for clusters where
// controllers and invokers in separate processes share one store. It has
// exactly the semantics of the embedded sqlite store (the storetest suite
// holds both to them).
//
// It talks to the server through a pgxpool, not database/sql: no
// interface{} boxing of rows, and pgx's default query mode prepares each
// statement once per connection and caches it, so the hot reads (the
// cache misses: Identity, Action, ActionCode; the activation GET) cost
// one Bind/Execute round trip. A batch of activation records is one
// statement over arrays, hence one round trip however many records.
//
// Open migrates the schema under a PostgreSQL advisory lock, so processes
// of a cluster starting together never race on it.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stokehq/stoke/core/store"
)

// DB is a store.Store backed by a PostgreSQL database. It is safe for
// concurrent use.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url (postgres://user:pass@host:port/db
// or a keyword/value string; pgxpool's pool_max_conns and friends work
// too) and brings its schema up to date.
func Open(ctx context.Context, url string) (*DB, error) {
	if url == "" {
		return nil, errors.New("postgres: open: empty url")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors quote the URL, password included.
		return nil, errors.New("postgres: open: malformed url (want postgres://user:password@host:port/database)")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", redact(cfg), err)
	}
	db := &DB{pool: pool}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", redact(cfg), err)
	}
	return db, nil
}

// redact names the database without its password, for errors.
func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// Close closes every connection. It waits for queries in flight.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Pool is the connection pool, for health checks and metrics.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// notFound wraps store.ErrNotFound with what was looked up.
func notFound(what string, key ...string) error {
	return fmt.Errorf("postgres: %s %s: %w", what, strings.Join(key, "/"), store.ErrNotFound)
}
