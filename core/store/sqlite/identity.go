package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stokehq/stoke/core/entity"
)

// Identity returns the identity with this UUID.
func (db *DB) Identity(ctx context.Context, uuid string) (*entity.Identity, error) {
	var js []byte
	err := db.getIdentity.QueryRowContext(ctx, uuid).Scan(&js)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("identity", uuid)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: identity %s: %w", uuid, err)
	}
	id := new(entity.Identity)
	if err := json.Unmarshal(js, id); err != nil {
		return nil, fmt.Errorf("sqlite: identity %s: decode: %w", uuid, err)
	}
	return id, nil
}

// PutIdentity creates or replaces an identity.
func (db *DB) PutIdentity(ctx context.Context, id *entity.Identity) error {
	if id == nil || id.UUID == "" {
		return errors.New("sqlite: put identity: missing uuid")
	}
	js, err := json.Marshal(id)
	if err != nil {
		return fmt.Errorf("sqlite: put identity %s: %w", id.UUID, err)
	}
	if _, err := db.write.ExecContext(ctx,
		`INSERT INTO identities (uuid, json) VALUES (?, ?)
		 ON CONFLICT (uuid) DO UPDATE SET json = excluded.json`, id.UUID, string(js)); err != nil {
		return fmt.Errorf("sqlite: put identity %s: %w", id.UUID, err)
	}
	return nil
}
