package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stokehq/stoke/core/entity"
)

// Identity returns the identity with this UUID.
func (db *DB) Identity(ctx context.Context, uuid string) (*entity.Identity, error) {
	var js []byte
	err := db.pool.QueryRow(ctx, `SELECT json FROM identities WHERE uuid = $1`, uuid).Scan(&js)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("identity", uuid)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: identity %s: %w", uuid, err)
	}
	id := new(entity.Identity)
	if err := json.Unmarshal(js, id); err != nil {
		return nil, fmt.Errorf("postgres: identity %s: decode: %w", uuid, err)
	}
	return id, nil
}

// PutIdentity creates or replaces an identity.
func (db *DB) PutIdentity(ctx context.Context, id *entity.Identity) error {
	if id == nil || id.UUID == "" {
		return errors.New("postgres: put identity: missing uuid")
	}
	js, err := json.Marshal(id)
	if err != nil {
		return fmt.Errorf("postgres: put identity %s: %w", id.UUID, err)
	}
	if _, err := db.pool.Exec(ctx,
		`INSERT INTO identities (uuid, json) VALUES ($1, $2)
		 ON CONFLICT (uuid) DO UPDATE SET json = excluded.json`, id.UUID, string(js)); err != nil {
		return fmt.Errorf("postgres: put identity %s: %w", id.UUID, err)
	}
	return nil
}
