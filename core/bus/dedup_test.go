package bus

import "testing"

func TestDedup(t *testing.T) {
	d := NewDedup(2)
	for i, tc := range []struct {
		id   string
		seen bool
	}{
		{"a", false},
		{"a", true},
		{"", false}, // the empty id is never a duplicate
		{"", false},
		{"b", false},
		{"a", true},
		{"c", false}, // evicts a, the oldest
		{"b", true},
		{"a", false},
	} {
		if got := d.Seen(tc.id); got != tc.seen {
			t.Fatalf("step %d: Seen(%q) = %v, want %v", i, tc.id, got, tc.seen)
		}
	}
}
