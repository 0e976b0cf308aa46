package sqlite

import (
	"context"
	"fmt"
)

// migrations are applied in order; the schema_version table records how
// many have run. Append only: never edit a migration that has shipped.
var migrations = []string{
	// 1: the initial schema. Action metadata is stored apart from the code
	// so that the hot read (Action) never loads a multi-megabyte blob.
	`CREATE TABLE identities (
		uuid TEXT PRIMARY KEY,
		json TEXT NOT NULL
	);
	CREATE TABLE actions (
		namespace TEXT NOT NULL,
		name      TEXT NOT NULL,
		rev       INTEGER NOT NULL,
		meta      TEXT NOT NULL,
		code      TEXT NOT NULL,
		digest    TEXT NOT NULL,
		PRIMARY KEY (namespace, name)
	) WITHOUT ROWID;
	CREATE TABLE activations (
		activation_id TEXT PRIMARY KEY,
		namespace     TEXT NOT NULL,
		name          TEXT NOT NULL,
		start         INTEGER NOT NULL,
		json          TEXT NOT NULL
	);
	CREATE INDEX activations_ns_start ON activations (namespace, start);
	CREATE INDEX activations_ns_name_start ON activations (namespace, name, start);`,
}

// migrate brings the schema to the newest version in one transaction per
// step, so a crash mid-migration leaves the previous version intact.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var v int
	if err := db.write.QueryRowContext(ctx,
		`SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this binary's %d", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.write.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, i+1); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
	}
	return nil
}
