package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
)

// Action returns an action's metadata: Exec.Code is empty, Exec.Digest set.
func (db *DB) Action(ctx context.Context, namespace, name string) (*entity.Action, error) {
	var (
		rev  int64
		meta []byte
	)
	err := db.getAction.QueryRowContext(ctx, namespace, name).Scan(&rev, &meta)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("action", namespace, name)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: action %s/%s: %w", namespace, name, err)
	}
	return decodeAction(namespace, name, rev, meta)
}

func decodeAction(namespace, name string, rev int64, meta []byte) (*entity.Action, error) {
	a := new(entity.Action)
	if err := json.Unmarshal(meta, a); err != nil {
		return nil, fmt.Errorf("sqlite: action %s/%s: decode: %w", namespace, name, err)
	}
	a.Rev = rev
	return a, nil
}

// ActionCode returns the code of the action at revision rev.
func (db *DB) ActionCode(ctx context.Context, namespace, name string, rev int64) (string, error) {
	var code string
	err := db.getCode.QueryRowContext(ctx, namespace, name, rev).Scan(&code)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("action code", namespace, name, fmt.Sprint(rev))
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: action code %s/%s@%d: %w", namespace, name, rev, err)
	}
	return code, nil
}

// PutAction creates (rev 0) or replaces (stored revision == rev) an action.
// It sets a.Rev, a.Updated (now, epoch ms) and a.Exec.Digest.
// Replacing an action that is gone is a conflict too: it changed since
// the caller read it.
func (db *DB) PutAction(ctx context.Context, a *entity.Action, rev int64) error {
	if a == nil || a.Namespace == "" || a.Name == "" {
		return errors.New("sqlite: put action: missing namespace or name")
	}
	if rev < 0 {
		return fmt.Errorf("sqlite: put action %s/%s: negative revision %d", a.Namespace, a.Name, rev)
	}
	// The digest is always recomputed: a caller that read an action,
	// changed its code and put it back would otherwise store the old
	// digest, and every compiled-module cache keyed by it would go stale.
	digest := store.Digest(a.Exec.Code)
	meta := *a
	meta.Exec.Code = ""
	meta.Exec.Digest = digest
	meta.Updated = time.Now().UnixMilli()
	js, err := json.Marshal(&meta)
	if err != nil {
		return fmt.Errorf("sqlite: put action %s/%s: %w", a.Namespace, a.Name, err)
	}

	var res sql.Result
	if rev == 0 {
		res, err = db.write.ExecContext(ctx,
			`INSERT INTO actions (namespace, name, rev, meta, code, digest) VALUES (?, ?, 1, ?, ?, ?)
			 ON CONFLICT (namespace, name) DO NOTHING`,
			a.Namespace, a.Name, string(js), a.Exec.Code, digest)
	} else {
		res, err = db.write.ExecContext(ctx,
			`UPDATE actions SET rev = rev + 1, meta = ?, code = ?, digest = ?
			 WHERE namespace = ? AND name = ? AND rev = ?`,
			string(js), a.Exec.Code, digest, a.Namespace, a.Name, rev)
	}
	if err != nil {
		return fmt.Errorf("sqlite: put action %s/%s: %w", a.Namespace, a.Name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: put action %s/%s: %w", a.Namespace, a.Name, err)
	}
	if n == 0 {
		if rev == 0 {
			return fmt.Errorf("sqlite: put action %s/%s: exists: %w", a.Namespace, a.Name, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: put action %s/%s: not at revision %d: %w", a.Namespace, a.Name, rev, store.ErrConflict)
	}
	a.Rev = rev + 1
	a.Updated = meta.Updated
	a.Exec.Digest = digest
	return nil
}

// DeleteAction removes an action and returns its metadata.
func (db *DB) DeleteAction(ctx context.Context, namespace, name string) (*entity.Action, error) {
	var (
		rev  int64
		meta []byte
	)
	err := db.write.QueryRowContext(ctx,
		`DELETE FROM actions WHERE namespace = ? AND name = ? RETURNING rev, meta`,
		namespace, name).Scan(&rev, &meta)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("action", namespace, name)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: delete action %s/%s: %w", namespace, name, err)
	}
	return decodeAction(namespace, name, rev, meta)
}

// ListActions returns a page of a namespace's actions sorted by name,
// without code. limit 0 means entity.DefaultListLimit; pages are capped at
// entity.MaxListLimit.
func (db *DB) ListActions(ctx context.Context, namespace string, skip, limit int) ([]*entity.Action, error) {
	skip, limit, err := store.Page(skip, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list actions %s: %w", namespace, err)
	}
	rows, err := db.read.QueryContext(ctx,
		`SELECT name, rev, meta FROM actions WHERE namespace = ? ORDER BY name LIMIT ? OFFSET ?`,
		namespace, limit, skip)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list actions %s: %w", namespace, err)
	}
	defer rows.Close()
	out := []*entity.Action{}
	for rows.Next() {
		var (
			name string
			rev  int64
			meta []byte
		)
		if err := rows.Scan(&name, &rev, &meta); err != nil {
			return nil, fmt.Errorf("sqlite: list actions %s: %w", namespace, err)
		}
		a, err := decodeAction(namespace, name, rev, meta)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list actions %s: %w", namespace, err)
	}
	return out, nil
}

// CountActions counts a namespace's actions.
func (db *DB) CountActions(ctx context.Context, namespace string) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM actions WHERE namespace = ?`, namespace).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count actions %s: %w", namespace, err)
	}
	return n, nil
}
