package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
)

// PutActivations stores records in one transaction. Storing a record whose
// activation ID exists replaces it, so a batch retried after an unclear
// failure stores each record once.
func (db *DB) PutActivations(ctx context.Context, acts []*entity.Activation) error {
	if len(acts) == 0 {
		return nil
	}
	// Encode and validate everything before taking the write lock.
	enc := make([][]byte, len(acts))
	for i, a := range acts {
		if a == nil || a.Namespace == "" || a.ActivationID == "" {
			return fmt.Errorf("sqlite: put activations: record %d: missing namespace or activation id", i)
		}
		js, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("sqlite: put activations: record %s: %w", a.ActivationID, err)
		}
		enc[i] = js
	}

	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: put activations: %w", err)
	}
	defer tx.Rollback() // no-op after Commit
	ins, err := tx.PrepareContext(ctx,
		`INSERT INTO activations (activation_id, namespace, name, start, json) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (activation_id) DO UPDATE SET
		   namespace = excluded.namespace, name = excluded.name,
		   start = excluded.start, json = excluded.json`)
	if err != nil {
		return fmt.Errorf("sqlite: put activations: %w", err)
	}
	defer ins.Close()
	for i, a := range acts {
		if _, err := ins.ExecContext(ctx, a.ActivationID, a.Namespace, a.Name, a.Start, string(enc[i])); err != nil {
			return fmt.Errorf("sqlite: put activations: record %s: %w", a.ActivationID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: put activations: commit: %w", err)
	}
	return nil
}

// Activation returns one record.
func (db *DB) Activation(ctx context.Context, namespace, id string) (*entity.Activation, error) {
	var js []byte
	err := db.getActivation.QueryRowContext(ctx, namespace, id).Scan(&js)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("activation", namespace, id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: activation %s/%s: %w", namespace, id, err)
	}
	a := new(entity.Activation)
	if err := json.Unmarshal(js, a); err != nil {
		return nil, fmt.Errorf("sqlite: activation %s/%s: decode: %w", namespace, id, err)
	}
	return a, nil
}

// where builds the filter of q. Zero Since and Upto mean unbounded.
func where(q store.ActivationQuery) (string, []any, error) {
	if q.Since < 0 || q.Upto < 0 {
		return "", nil, fmt.Errorf("negative since %d or upto %d", q.Since, q.Upto)
	}
	var b strings.Builder
	args := []any{q.Namespace}
	b.WriteString(` WHERE namespace = ?`)
	if q.Name != "" {
		b.WriteString(` AND name = ?`)
		args = append(args, q.Name)
	}
	if q.Since > 0 {
		b.WriteString(` AND start >= ?`)
		args = append(args, q.Since)
	}
	if q.Upto > 0 {
		b.WriteString(` AND start <= ?`)
		args = append(args, q.Upto)
	}
	return b.String(), args, nil
}

// ListActivations returns a page of records, newest first. Limit 0 means
// entity.DefaultListLimit; pages are capped at entity.MaxListLimit.
func (db *DB) ListActivations(ctx context.Context, q store.ActivationQuery) ([]*entity.Activation, error) {
	skip, limit, err := store.Page(q.Skip, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list activations %s: %w", q.Namespace, err)
	}
	cond, args, err := where(q)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list activations %s: %w", q.Namespace, err)
	}
	// activation_id breaks ties between records that started in the same
	// millisecond, so that pages never overlap.
	rows, err := db.read.QueryContext(ctx,
		`SELECT json FROM activations`+cond+` ORDER BY start DESC, activation_id DESC LIMIT ? OFFSET ?`,
		append(args, limit, skip)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list activations %s: %w", q.Namespace, err)
	}
	defer rows.Close()
	out := []*entity.Activation{}
	for rows.Next() {
		var js []byte
		if err := rows.Scan(&js); err != nil {
			return nil, fmt.Errorf("sqlite: list activations %s: %w", q.Namespace, err)
		}
		a := new(entity.Activation)
		if err := json.Unmarshal(js, a); err != nil {
			return nil, fmt.Errorf("sqlite: list activations %s: decode: %w", q.Namespace, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list activations %s: %w", q.Namespace, err)
	}
	return out, nil
}

// CountActivations counts the records q selects, ignoring Skip and Limit.
func (db *DB) CountActivations(ctx context.Context, q store.ActivationQuery) (int, error) {
	cond, args, err := where(q)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count activations %s: %w", q.Namespace, err)
	}
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM activations`+cond, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count activations %s: %w", q.Namespace, err)
	}
	return n, nil
}
