package storetest

import (
	"testing"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
)

func testIdentity(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	guest := &entity.Identity{Subject: "guest", Namespace: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey}
	must(t, "put", s.PutIdentity(ctx(t), guest))

	got, err := s.Identity(ctx(t), entity.GuestUUID)
	must(t, "get", err)
	sameJSON(t, "identity", got, guest)

	_, err = s.Identity(ctx(t), "no-such-uuid")
	wantErr(t, "missing identity", err, store.ErrNotFound)

	// A put with a known UUID replaces the identity (key rotation).
	rotated := *guest
	rotated.Key = "new-key"
	must(t, "replace", s.PutIdentity(ctx(t), &rotated))
	got, err = s.Identity(ctx(t), entity.GuestUUID)
	must(t, "get replaced", err)
	if got.Key != "new-key" {
		t.Errorf("key after replace = %q, want new-key", got.Key)
	}
}
