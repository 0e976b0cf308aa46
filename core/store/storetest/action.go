package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
)

// meta is a without code, with the digest of its code: what Action returns.
func meta(a *entity.Action) *entity.Action {
	m := *a
	m.Exec.Code = ""
	m.Exec.Digest = Digest(a.Exec.Code)
	return &m
}

func testAction(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	a := NewAction("ns", "hello", "function main() { return {} }")
	a.Exec.Digest = "stale-digest-from-an-earlier-read"
	must(t, "create", s.PutAction(ctx(t), a, 0))
	if a.Rev != 1 {
		t.Errorf("rev after create = %d, want 1", a.Rev)
	}
	if a.Exec.Digest != Digest(a.Exec.Code) {
		t.Errorf("create set digest %q, want the sha256 of the code", a.Exec.Digest)
	}
	if a.Updated == 0 {
		t.Error("create did not set Updated")
	}

	t.Run("create again conflicts", func(t *testing.T) {
		again := NewAction("ns", "hello", "other")
		wantErr(t, "second create", s.PutAction(ctx(t), again, 0), store.ErrConflict)
	})

	t.Run("get has metadata, no code", func(t *testing.T) {
		got, err := s.Action(ctx(t), "ns", "hello")
		must(t, "get", err)
		if got.Rev != 1 {
			t.Errorf("rev = %d, want 1", got.Rev)
		}
		if got.Exec.Code != "" {
			t.Errorf("Action returned code %q", got.Exec.Code)
		}
		sameJSON(t, "action", got, meta(a))
	})

	t.Run("code at revision", func(t *testing.T) {
		code, err := s.ActionCode(ctx(t), "ns", "hello", 1)
		must(t, "code", err)
		if code != a.Exec.Code {
			t.Errorf("code = %q, want %q", code, a.Exec.Code)
		}
	})

	t.Run("update", func(t *testing.T) {
		b := NewAction("ns", "hello", "function main() { return {v: 2} }")
		must(t, "update", s.PutAction(ctx(t), b, 1))
		if b.Rev != 2 {
			t.Fatalf("rev after update = %d, want 2", b.Rev)
		}
		got, err := s.Action(ctx(t), "ns", "hello")
		must(t, "get", err)
		if got.Rev != 2 || got.Exec.Digest != Digest(b.Exec.Code) {
			t.Errorf("after update: rev %d digest %s, want rev 2 digest of new code", got.Rev, got.Exec.Digest)
		}
		_, err = s.ActionCode(ctx(t), "ns", "hello", 1)
		wantErr(t, "code of old revision", err, store.ErrNotFound)
		code, err := s.ActionCode(ctx(t), "ns", "hello", 2)
		must(t, "code rev 2", err)
		if code != b.Exec.Code {
			t.Errorf("code rev 2 = %q", code)
		}
	})

	t.Run("stale update conflicts", func(t *testing.T) {
		c := NewAction("ns", "hello", "stale")
		wantErr(t, "update at rev 1", s.PutAction(ctx(t), c, 1), store.ErrConflict)
		wantErr(t, "update at future rev", s.PutAction(ctx(t), c, 9), store.ErrConflict)
		got, err := s.Action(ctx(t), "ns", "hello")
		must(t, "get", err)
		if got.Rev != 2 {
			t.Errorf("a failed update changed rev to %d", got.Rev)
		}
	})

	t.Run("update of a missing action conflicts", func(t *testing.T) {
		wantErr(t, "update missing", s.PutAction(ctx(t), NewAction("ns", "ghost", "x"), 1), store.ErrConflict)
	})

	t.Run("not found", func(t *testing.T) {
		for _, c := range []struct{ ns, name string }{{"ns", "nope"}, {"other", "hello"}, {"", ""}} {
			_, err := s.Action(ctx(t), c.ns, c.name)
			wantErr(t, "action "+c.ns+"/"+c.name, err, store.ErrNotFound)
			_, err = s.ActionCode(ctx(t), c.ns, c.name, 1)
			wantErr(t, "code "+c.ns+"/"+c.name, err, store.ErrNotFound)
		}
	})

	t.Run("delete", func(t *testing.T) {
		del, err := s.DeleteAction(ctx(t), "ns", "hello")
		must(t, "delete", err)
		if del.Name != "hello" || del.Rev != 2 || del.Exec.Code != "" {
			t.Errorf("deleted = %+v, want hello at rev 2 without code", del)
		}
		_, err = s.Action(ctx(t), "ns", "hello")
		wantErr(t, "get after delete", err, store.ErrNotFound)
		_, err = s.ActionCode(ctx(t), "ns", "hello", 2)
		wantErr(t, "code after delete", err, store.ErrNotFound)
		_, err = s.DeleteAction(ctx(t), "ns", "hello")
		wantErr(t, "delete twice", err, store.ErrNotFound)
		// The name is free again.
		must(t, "recreate", s.PutAction(ctx(t), NewAction("ns", "hello", "new"), 0))
	})

	t.Run("large code", func(t *testing.T) {
		big := make([]byte, 3<<20)
		for i := range big {
			big[i] = 'a' + byte(i%26)
		}
		l := NewAction("ns", "big", string(big))
		must(t, "put big", s.PutAction(ctx(t), l, 0))
		code, err := s.ActionCode(ctx(t), "ns", "big", l.Rev)
		must(t, "code big", err)
		if code != string(big) {
			t.Errorf("big code: got %d bytes back, want %d", len(code), len(big))
		}
	})
}

func testListActions(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	// Created out of order: the list is sorted by name.
	for _, n := range []int{3, 0, 4, 1, 2} {
		must(t, "put", s.PutAction(ctx(t), NewAction("ns", fmt.Sprintf("a%d", n), "code"), 0))
	}
	must(t, "put other ns", s.PutAction(ctx(t), NewAction("other", "z", "code"), 0))

	for _, c := range []struct {
		name        string
		skip, limit int
		want        []string
	}{
		{"all", 0, 0, []string{"a0", "a1", "a2", "a3", "a4"}},
		{"limit", 0, 2, []string{"a0", "a1"}},
		{"skip", 3, 0, []string{"a3", "a4"}},
		{"skip and limit", 1, 2, []string{"a1", "a2"}},
		{"skip past end", 9, 0, []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.ListActions(ctx(t), "ns", c.skip, c.limit)
			must(t, "list", err)
			names := []string{}
			for _, a := range got {
				names = append(names, a.Name)
				if a.Exec.Code != "" || a.Exec.Digest != Digest("code") || a.Rev != 1 {
					t.Errorf("%s: code %q digest %q rev %d, want metadata only at rev 1", a.Name, a.Exec.Code, a.Exec.Digest, a.Rev)
				}
			}
			sameJSON(t, "names", names, c.want)
		})
	}

	for _, c := range []struct {
		ns   string
		want int
	}{{"ns", 5}, {"other", 1}, {"empty", 0}} {
		n, err := s.CountActions(ctx(t), c.ns)
		must(t, "count", err)
		if n != c.want {
			t.Errorf("count %s = %d, want %d", c.ns, n, c.want)
		}
	}
}

// testActionRace: of writers updating from the same revision, exactly one
// wins and the others get ErrConflict.
func testActionRace(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	must(t, "create", s.PutAction(ctx(t), NewAction("ns", "race", "v0"), 0))
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			errs[i] = s.PutAction(ctx(t), NewAction("ns", "race", fmt.Sprint("v", i+1)), 1)
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("racing update: %v, want nil or ErrConflict", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d racing updates won, want exactly 1", wins)
	}
	got, err := s.Action(ctx(t), "ns", "race")
	must(t, "get", err)
	if got.Rev != 2 {
		t.Errorf("rev after race = %d, want 2", got.Rev)
	}
}
