package storetest

import (
	"fmt"
	"testing"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
)

func testActivation(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	a := NewActivation("ns", "hello", "0123456789abcdef0123456789abcdef", 1000)
	b := NewActivation("ns", "hello", "fedcba9876543210fedcba9876543210", 2000)
	must(t, "put", s.PutActivations(ctx(t), []*entity.Activation{a, b}))
	must(t, "put none", s.PutActivations(ctx(t), nil))

	got, err := s.Activation(ctx(t), "ns", a.ActivationID)
	must(t, "get", err)
	sameJSON(t, "activation", got, a)

	_, err = s.Activation(ctx(t), "ns", "missing")
	wantErr(t, "missing id", err, store.ErrNotFound)
	_, err = s.Activation(ctx(t), "other", a.ActivationID)
	wantErr(t, "id of another namespace", err, store.ErrNotFound)

	// A retried batch stores each record once, with the newest content.
	b2 := *b
	b2.Logs = []string{"retried"}
	must(t, "put again", s.PutActivations(ctx(t), []*entity.Activation{a, &b2}))
	n, err := s.CountActivations(ctx(t), store.ActivationQuery{Namespace: "ns"})
	must(t, "count", err)
	if n != 2 {
		t.Errorf("count after retried batch = %d, want 2", n)
	}
	got, err = s.Activation(ctx(t), "ns", b.ActivationID)
	must(t, "get replaced", err)
	sameJSON(t, "replaced activation", got, &b2)
}

func testListActivations(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	// 10 records of "ns": a at 100, 300, ..., 900 and b at 200, ..., 1000;
	// one of another namespace.
	var acts []*entity.Activation
	for i := 1; i <= 10; i++ {
		name := "a"
		if i%2 == 0 {
			name = "b"
		}
		acts = append(acts, NewActivation("ns", name, fmt.Sprintf("id%02d", i), int64(i*100)))
	}
	acts = append(acts, NewActivation("other", "a", "other1", 500))
	must(t, "put", s.PutActivations(ctx(t), acts))

	for _, c := range []struct {
		name string
		q    store.ActivationQuery
		want []string
	}{
		{"newest first", store.ActivationQuery{}, []string{"id10", "id09", "id08", "id07", "id06", "id05", "id04", "id03", "id02", "id01"}},
		{"by name", store.ActivationQuery{Name: "a"}, []string{"id09", "id07", "id05", "id03", "id01"}},
		{"since", store.ActivationQuery{Since: 800}, []string{"id10", "id09", "id08"}},
		{"upto", store.ActivationQuery{Upto: 300}, []string{"id03", "id02", "id01"}},
		{"since and upto", store.ActivationQuery{Since: 400, Upto: 600}, []string{"id06", "id05", "id04"}},
		{"name since upto", store.ActivationQuery{Name: "b", Since: 400, Upto: 800}, []string{"id08", "id06", "id04"}},
		{"limit", store.ActivationQuery{Limit: 2}, []string{"id10", "id09"}},
		{"skip and limit", store.ActivationQuery{Skip: 2, Limit: 3}, []string{"id08", "id07", "id06"}},
		{"skip past end", store.ActivationQuery{Skip: 20}, []string{}},
		{"empty window", store.ActivationQuery{Since: 2000}, []string{}},
		{"unknown name", store.ActivationQuery{Name: "zzz"}, []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := c.q
			q.Namespace = "ns"
			got, err := s.ListActivations(ctx(t), q)
			must(t, "list", err)
			ids := []string{}
			for _, a := range got {
				ids = append(ids, a.ActivationID)
			}
			sameJSON(t, "ids", ids, c.want)

			// Count applies the same filter and ignores skip and limit.
			cq := q
			cq.Skip, cq.Limit = 0, 0
			all, err := s.ListActivations(ctx(t), cq)
			must(t, "list for count", err)
			n, err := s.CountActivations(ctx(t), q)
			must(t, "count", err)
			if n != len(all) {
				t.Errorf("count = %d, want %d", n, len(all))
			}
		})
	}

	t.Run("default and max limit", func(t *testing.T) {
		var many []*entity.Activation
		for i := range entity.MaxListLimit + 10 {
			many = append(many, NewActivation("big", "x", fmt.Sprintf("big%04d", i), int64(i)))
		}
		must(t, "put many", s.PutActivations(ctx(t), many))
		for _, c := range []struct{ limit, want int }{
			{0, entity.DefaultListLimit},
			{entity.MaxListLimit, entity.MaxListLimit},
			{entity.MaxListLimit + 5, entity.MaxListLimit},
		} {
			got, err := s.ListActivations(ctx(t), store.ActivationQuery{Namespace: "big", Limit: c.limit})
			must(t, "list", err)
			if len(got) != c.want {
				t.Errorf("limit %d: %d records, want %d", c.limit, len(got), c.want)
			}
		}
		n, err := s.CountActivations(ctx(t), store.ActivationQuery{Namespace: "big"})
		must(t, "count", err)
		if n != len(many) {
			t.Errorf("count = %d, want %d", n, len(many))
		}
	})
}
