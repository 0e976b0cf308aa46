package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
)

// putActivations upserts a whole batch from five parallel arrays: one
// statement, one round trip and one implicit transaction, so the batch is
// stored whole or not at all.
const putActivations = `INSERT INTO activations (activation_id, namespace, name, start, json)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
	ON CONFLICT (activation_id) DO UPDATE SET
	  namespace = excluded.namespace, name = excluded.name,
	  start = excluded.start, json = excluded.json`

// PutActivations stores records in one round trip. Storing a record whose
// activation ID exists replaces it, so a batch retried after an unclear
// failure stores each record once.
func (db *DB) PutActivations(ctx context.Context, acts []*entity.Activation) error {
	if len(acts) == 0 {
		return nil
	}
	// An upsert may touch a row once per statement, so an ID repeated in
	// the batch keeps only its last record, as one-by-one puts would.
	last := make(map[string]int, len(acts))
	for i, a := range acts {
		if a == nil || a.Namespace == "" || a.ActivationID == "" {
			return fmt.Errorf("postgres: put activations: record %d: missing namespace or activation id", i)
		}
		last[a.ActivationID] = i
	}
	n := len(last)
	ids, nss, names := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	starts, docs := make([]int64, 0, n), make([]string, 0, n)
	for i, a := range acts {
		if last[a.ActivationID] != i {
			continue
		}
		js, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("postgres: put activations: record %s: %w", a.ActivationID, err)
		}
		ids, nss, names = append(ids, a.ActivationID), append(nss, a.Namespace), append(names, a.Name)
		starts, docs = append(starts, a.Start), append(docs, string(js))
	}
	if _, err := db.pool.Exec(ctx, putActivations, ids, nss, names, starts, docs); err != nil {
		return fmt.Errorf("postgres: put activations: %w", err)
	}
	return nil
}

// Activation returns one record.
func (db *DB) Activation(ctx context.Context, namespace, id string) (*entity.Activation, error) {
	var js []byte
	err := db.pool.QueryRow(ctx,
		`SELECT json FROM activations WHERE activation_id = $1 AND namespace = $2`,
		id, namespace).Scan(&js)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("activation", namespace, id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: activation %s/%s: %w", namespace, id, err)
	}
	a := new(entity.Activation)
	if err := json.Unmarshal(js, a); err != nil {
		return nil, fmt.Errorf("postgres: activation %s/%s: decode: %w", namespace, id, err)
	}
	return a, nil
}

// where builds the filter of q. Zero Since and Upto mean unbounded. There
// are eight shapes, each prepared once per connection.
func where(q store.ActivationQuery) (string, []any, error) {
	if q.Since < 0 || q.Upto < 0 {
		return "", nil, fmt.Errorf("negative since %d or upto %d", q.Since, q.Upto)
	}
	var b strings.Builder
	args := []any{q.Namespace}
	add := func(cond string, v any) {
		args = append(args, v)
		b.WriteString(cond + "$" + strconv.Itoa(len(args)))
	}
	b.WriteString(` WHERE namespace = $1`)
	if q.Name != "" {
		add(` AND name = `, q.Name)
	}
	if q.Since > 0 {
		add(` AND start >= `, q.Since)
	}
	if q.Upto > 0 {
		add(` AND start <= `, q.Upto)
	}
	return b.String(), args, nil
}

// ListActivations returns a page of records, newest first. Limit 0 means
// entity.DefaultListLimit; pages are capped at entity.MaxListLimit.
func (db *DB) ListActivations(ctx context.Context, q store.ActivationQuery) ([]*entity.Activation, error) {
	skip, limit, err := store.Page(q.Skip, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list activations %s: %w", q.Namespace, err)
	}
	cond, args, err := where(q)
	if err != nil {
		return nil, fmt.Errorf("postgres: list activations %s: %w", q.Namespace, err)
	}
	// activation_id breaks ties between records that started in the same
	// millisecond, so that pages never overlap.
	n := len(args)
	rows, err := db.pool.Query(ctx,
		`SELECT json FROM activations`+cond+` ORDER BY start DESC, activation_id DESC`+
			` LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
		append(args, limit, skip)...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list activations %s: %w", q.Namespace, err)
	}
	defer rows.Close()
	out := []*entity.Activation{}
	for rows.Next() {
		var js []byte
		if err := rows.Scan(&js); err != nil {
			return nil, fmt.Errorf("postgres: list activations %s: %w", q.Namespace, err)
		}
		a := new(entity.Activation)
		if err := json.Unmarshal(js, a); err != nil {
			return nil, fmt.Errorf("postgres: list activations %s: decode: %w", q.Namespace, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list activations %s: %w", q.Namespace, err)
	}
	return out, nil
}

// CountActivations counts the records q selects, ignoring Skip and Limit.
func (db *DB) CountActivations(ctx context.Context, q store.ActivationQuery) (int, error) {
	cond, args, err := where(q)
	if err != nil {
		return 0, fmt.Errorf("postgres: count activations %s: %w", q.Namespace, err)
	}
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM activations`+cond, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count activations %s: %w", q.Namespace, err)
	}
	return n, nil
}
