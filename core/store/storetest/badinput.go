package storetest

import (
	"errors"
	"testing"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
)

// testBadInput: every malformed call fails with an error (not a panic, and
// not ErrNotFound or ErrConflict, which mean something else to callers)
// and stores nothing.
func testBadInput(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	valid := NewActivation("ns", "a", "good", 1)
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"nil identity", func() error { return s.PutIdentity(ctx(t), nil) }},
		{"identity without uuid", func() error { return s.PutIdentity(ctx(t), &entity.Identity{Namespace: "ns"}) }},
		{"nil action", func() error { return s.PutAction(ctx(t), nil, 0) }},
		{"action without namespace", func() error { return s.PutAction(ctx(t), NewAction("", "a", "x"), 0) }},
		{"action without name", func() error { return s.PutAction(ctx(t), NewAction("ns", "", "x"), 0) }},
		{"negative revision", func() error { return s.PutAction(ctx(t), NewAction("ns", "a", "x"), -1) }},
		{"negative skip", func() error { _, err := s.ListActions(ctx(t), "ns", -1, 0); return err }},
		{"negative limit", func() error { _, err := s.ListActions(ctx(t), "ns", 0, -1); return err }},
		{"nil activation", func() error { return s.PutActivations(ctx(t), []*entity.Activation{valid, nil}) }},
		{"activation without id", func() error {
			return s.PutActivations(ctx(t), []*entity.Activation{valid, NewActivation("ns", "a", "", 1)})
		}},
		{"activation without namespace", func() error {
			return s.PutActivations(ctx(t), []*entity.Activation{valid, NewActivation("", "a", "x", 1)})
		}},
		{"activations negative skip", func() error {
			_, err := s.ListActivations(ctx(t), store.ActivationQuery{Namespace: "ns", Skip: -1})
			return err
		}},
		{"activations negative limit", func() error {
			_, err := s.ListActivations(ctx(t), store.ActivationQuery{Namespace: "ns", Limit: -1})
			return err
		}},
		{"activations negative since", func() error {
			_, err := s.CountActivations(ctx(t), store.ActivationQuery{Namespace: "ns", Since: -1})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
				t.Errorf("error %v, want a validation error", err)
			}
		})
	}
	// A batch with one bad record stores none of it.
	if _, err := s.Activation(ctx(t), "ns", "good"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a rejected batch stored its valid record: %v", err)
	}
	if _, err := s.Action(ctx(t), "ns", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a rejected action put stored it: %v", err)
	}
}
