package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrationLock is the advisory lock key that serialises migrations of
// one database across processes ("stoke" in ASCII, then a schema tag).
const migrationLock int64 = 0x73746f6b65_0001

// migrations are applied in order; the schema_version table records how
// many have run. Append only: never edit a migration that has shipped.
var migrations = []string{
	// 1: the initial schema, the sqlite store's. Action metadata is apart
	// from the code so that the hot read (Action) never loads a
	// multi-megabyte blob; the code is bytea so that any bytes round-trip.
	// Names collate "C", byte order, so lists sort as SQLite's do
	// whatever the database's locale. Records are text, not jsonb: jsonb
	// would reorder keys and respace results that clients see verbatim.
	`CREATE TABLE identities (
		uuid text PRIMARY KEY,
		json text NOT NULL
	);
	CREATE TABLE actions (
		namespace text COLLATE "C" NOT NULL,
		name      text COLLATE "C" NOT NULL,
		rev       bigint NOT NULL,
		meta      text NOT NULL,
		code      bytea NOT NULL,
		digest    text NOT NULL,
		PRIMARY KEY (namespace, name)
	);
	CREATE TABLE activations (
		activation_id text COLLATE "C" PRIMARY KEY,
		namespace     text COLLATE "C" NOT NULL,
		name          text COLLATE "C" NOT NULL,
		start         bigint NOT NULL,
		json          text NOT NULL
	);
	CREATE INDEX activations_ns_start ON activations (namespace, start DESC, activation_id DESC);
	CREATE INDEX activations_ns_name_start ON activations (namespace, name, start DESC, activation_id DESC);`,
}

// migrate brings the schema to the newest version, one transaction per
// step, so a crash mid-migration leaves the previous version intact. Each
// step holds a transaction-scoped advisory lock and re-reads the version
// under it: of two processes opening at once, the second waits and then
// finds nothing left to do.
func (db *DB) migrate(ctx context.Context) error {
	for {
		done, err := db.step(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// step applies the next migration, or reports that none is left.
func (db *DB) step(ctx context.Context) (done bool, err error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx) // no-op after Commit

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return false, fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	var v int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return false, fmt.Errorf("migrate: read version: %w", err)
	}
	if v > len(migrations) {
		return false, fmt.Errorf("migrate: database schema version %d is newer than this binary's %d", v, len(migrations))
	}
	if v == len(migrations) {
		return true, tx.Commit(ctx)
	}
	// Simple protocol: a migration is several statements.
	if _, err := tx.Exec(ctx, migrations[v], pgx.QueryExecModeSimpleProtocol); err != nil {
		return false, fmt.Errorf("migrate to %d: %w", v+1, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM schema_version`); err != nil {
		return false, fmt.Errorf("migrate to %d: %w", v+1, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, v+1); err != nil {
		return false, fmt.Errorf("migrate to %d: %w", v+1, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migrate to %d: %w", v+1, err)
	}
	return false, nil
}
