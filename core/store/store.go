// Package store persists identities, actions and activations. The sqlite
// package is the embedded default; every implementation passes the same
// tests in storetest.
package store

import (
	"context"
	"errors"

	"github.com/stokehq/stoke/core/entity"
)

var (
	// ErrNotFound: no such entity.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the entity exists (create) or changed since it was read
	// (update with a stale revision).
	ErrConflict = errors.New("conflict")
)

// Store is the durable state. Getters return ErrNotFound (wrapped) when
// nothing matches. Implementations are safe for concurrent use.
type Store interface {
	Identity(ctx context.Context, uuid string) (*entity.Identity, error)
	PutIdentity(ctx context.Context, id *entity.Identity) error

	// Action returns an action without its code (Exec.Code empty,
	// Exec.Digest set): what the controller and a warm invoker need.
	Action(ctx context.Context, namespace, name string) (*entity.Action, error)
	// ActionCode returns the code of the action at revision rev, or
	// ErrNotFound if the action has moved on or is gone.
	ActionCode(ctx context.Context, namespace, name string, rev int64) (string, error)
	// PutAction stores a. With rev 0 it creates and fails with ErrConflict
	// if the action exists; otherwise it replaces the action only if its
	// stored revision is rev; replacing a missing action is ErrConflict.
	// It sets a.Rev (the new revision), a.Updated (now) and a.Exec.Digest
	// (recomputed from the code).
	PutAction(ctx context.Context, a *entity.Action, rev int64) error
	// DeleteAction removes an action and returns it (without code).
	DeleteAction(ctx context.Context, namespace, name string) (*entity.Action, error)
	// ListActions returns actions without code, sorted by name. A limit of
	// 0 means entity.DefaultListLimit; limits are capped at
	// entity.MaxListLimit (so are ListActivations').
	ListActions(ctx context.Context, namespace string, skip, limit int) ([]*entity.Action, error)
	CountActions(ctx context.Context, namespace string) (int, error)

	// PutActivations stores records in one batch; re-putting an activation
	// id replaces the record, so a retried batch never duplicates.
	PutActivations(ctx context.Context, acts []*entity.Activation) error
	Activation(ctx context.Context, namespace, id string) (*entity.Activation, error)
	// ListActivations returns records newest first.
	ListActivations(ctx context.Context, q ActivationQuery) ([]*entity.Activation, error)
	CountActivations(ctx context.Context, q ActivationQuery) (int, error)

	Close() error
}

// ActivationQuery selects activation records.
type ActivationQuery struct {
	Namespace string
	Name      string // optional: only this action
	Since     int64  // optional: start >= Since (epoch ms)
	Upto      int64  // optional: start <= Upto (epoch ms)
	Skip      int
	Limit     int
}
