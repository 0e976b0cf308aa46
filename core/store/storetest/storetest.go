// Package storetest is the behaviour suite every store.Store must pass.
// An implementation's test calls Run with a function that opens an empty
// store; the suite is the executable form of the contract in store.go plus
// the details it leaves open (list defaults, idempotent activation puts).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
)

// Run runs the suite. open must return a new, empty store for each call
// and arrange to close it (t.Cleanup); Run calls it once per test.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Identity", func(t *testing.T) { testIdentity(t, open) })
	t.Run("Action", func(t *testing.T) { testAction(t, open) })
	t.Run("ListActions", func(t *testing.T) { testListActions(t, open) })
	t.Run("ActionRace", func(t *testing.T) { testActionRace(t, open) })
	t.Run("Activation", func(t *testing.T) { testActivation(t, open) })
	t.Run("ListActivations", func(t *testing.T) { testListActivations(t, open) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, open) })
}

func ctx(t *testing.T) context.Context { return t.Context() }

// Digest is the expected Exec.Digest of code: its hex SHA-256.
func Digest(code string) string { return store.Digest(code) }

// NewAction returns a valid action with parameters, annotations and limits
// set, so that round trips cover every field.
func NewAction(namespace, name, code string) *entity.Action {
	return &entity.Action{
		Namespace: namespace,
		Name:      name,
		Version:   "0.0.1",
		Exec:      entity.Exec{Kind: "nodejs:20", Code: code, Main: "main"},
		Parameters: entity.KeyValues{
			{Key: "greeting", Value: json.RawMessage(`"hello"`)},
			{Key: "secret", Value: json.RawMessage(`{"a":[1,2]}`), Init: true},
		},
		Annotations: entity.KeyValues{{Key: "exec", Value: json.RawMessage(`"nodejs"`)}},
		Limits:      entity.DefaultLimits(),
	}
}

// NewActivation returns a record of namespace/name started at start.
func NewActivation(namespace, name, id string, start int64) *entity.Activation {
	return &entity.Activation{
		Namespace:    namespace,
		Name:         name,
		Version:      "0.0.1",
		Subject:      "tester",
		ActivationID: id,
		Start:        start,
		End:          start + 5,
		Duration:     5,
		Response:     entity.NewResponse(entity.StatusSuccess, json.RawMessage(`{"ok":true}`)),
		Logs:         []string{"2024-01-01T00:00:00.000Z stdout: hi"},
		Annotations:  entity.KeyValues{{Key: "waitTime", Value: json.RawMessage(`3`)}},
	}
}

// sameJSON fails unless got and want encode to the same JSON, which is
// how clients see them (nil and empty lists are the same there).
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("%s: encode got: %v", what, err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("%s: encode want: %v", what, err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
