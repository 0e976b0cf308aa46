package balancer

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/controller"
)

func TestCoprimes(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []int
	}{
		{1, []int{1}},
		{2, []int{1}},
		{3, []int{1, 2}},
		{4, []int{1, 3}},
		{10, []int{1, 3, 7}},
		{12, []int{1, 5, 7, 11}},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			if got := coprimes(tc.n); !slices.Equal(got, tc.want) {
				t.Errorf("coprimes(%d) = %v, want %v", tc.n, got, tc.want)
			}
		})
	}
}

func TestProbeOrder(t *testing.T) {
	// The scaladoc example: N=10, hash 13 gives home 3 and step 3.
	if got, want := probeOrder(13, 10), []int{3, 6, 9, 2, 5, 8, 1, 4, 7, 0}; !slices.Equal(got, want) {
		t.Errorf("probeOrder(13, 10) = %v, want %v", got, want)
	}
	// Every order visits every invoker exactly once.
	for n := 1; n <= 24; n++ {
		for h := uint32(0); h < 50; h++ {
			got := probeOrder(h*2654435761, n)
			seen := make([]bool, n)
			for _, i := range got {
				if seen[i] {
					t.Fatalf("n=%d h=%d: %v visits %d twice", n, h, got, i)
				}
				seen[i] = true
			}
			if len(got) != n {
				t.Fatalf("n=%d: %v has %d entries", n, got, len(got))
			}
		}
	}
}

func TestHashSpreads(t *testing.T) {
	homes := map[int]int{}
	for i := 0; i < 1000; i++ {
		homes[int(hash("ns", fmt.Sprint("action", i))%4)]++
	}
	for i := 0; i < 4; i++ {
		if homes[i] < 150 {
			t.Errorf("invoker %d is home of %d of 1000 actions; the hash does not spread: %v", i, homes[i], homes)
		}
	}
	if hash("a", "b") == hash("b", "a") {
		t.Error("namespace and name are interchangeable in the hash")
	}
}

var quiet = slog.New(slog.DiscardHandler)

// clock is a settable time for the FSM.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time      { return c.now }
func (c *clock) add(d time.Duration) { c.now = c.now.Add(d) }
func newClock() *clock               { return &clock{now: time.Unix(1_700_000_000, 0)} }
func ping(id, mem int) *bus.Ping {
	return &bus.Ping{Invoker: id, MemoryMB: mem, Enabled: true, Time: time.Now()}
}
func msg(id, name string, mem int) *bus.ActivationMessage {
	return &bus.ActivationMessage{ActivationID: id, Namespace: "guest", Name: name, MemoryMB: mem}
}

func TestPlacement(t *testing.T) {
	home := int(hash("guest", "a") % 2)
	other := 1 - home
	type step struct {
		id      string // activation; "-id" releases it
		want    int    // invoker, or -1 for either
		wantErr error
	}
	for _, tc := range []struct {
		name        string
		mem         []int // invoker memory by id; 0: never pinged
		controllers int
		steps       []step
	}{
		{"no invokers", nil, 1, []step{{"1", 0, controller.ErrNoInvokers}}},
		{"home first", []int{512, 512}, 1, []step{{"1", home, nil}, {"2", home, nil}}},
		{"full home steps on", []int{512, 512}, 1, []step{{"1", home, nil}, {"2", home, nil}, {"3", other, nil}, {"4", other, nil}}},
		{"release frees the home", []int{512, 512}, 1, []step{{"1", home, nil}, {"2", home, nil}, {"-1", 0, nil}, {"3", home, nil}}},
		{"overflow forces a random one", []int{256, 256}, 1, []step{{"1", home, nil}, {"2", other, nil}, {"3", -1, nil}, {"4", -1, nil}}},
		{"controllers share memory", []int{512, 512}, 2, []step{{"1", home, nil}, {"2", other, nil}}},
		{"share has a floor", []int{128, 0}, 4, []step{{"1", 0, nil}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(Config{Logger: quiet, Controllers: tc.controllers, Now: newClock().Now})
			for id, mem := range tc.mem {
				if mem > 0 {
					b.Ping(ping(id, mem))
				}
			}
			for _, s := range tc.steps {
				if s.id[0] == '-' {
					b.Release(s.id[1:], false)
					continue
				}
				mem := 256
				if tc.name == "share has a floor" {
					mem = 128
				}
				got, err := b.Invoker(msg(s.id, "a", mem))
				if !errors.Is(err, s.wantErr) {
					t.Fatalf("activation %s: err %v, want %v", s.id, err, s.wantErr)
				}
				if err == nil && s.want >= 0 && got != s.want {
					t.Fatalf("activation %s went to invoker %d, want %d (home %d)", s.id, got, s.want, home)
				}
			}
		})
	}
}

func TestReleaseOnce(t *testing.T) {
	b := New(Config{Logger: quiet, Now: newClock().Now})
	b.Ping(ping(0, 256))
	if _, err := b.Invoker(msg("x", "a", 256)); err != nil {
		t.Fatal(err)
	}
	b.Release("x", false)
	b.Release("x", false) // a duplicate completion must not free memory twice
	b.Forget("x")
	if st := b.Invokers(); st[0].UsedMB != 0 {
		t.Fatalf("used %d MB after release, want 0", st[0].UsedMB)
	}
	// A message without memory is charged the default.
	b.Invoker(&bus.ActivationMessage{ActivationID: "y", Name: "a"})
	if st := b.Invokers(); st[0].UsedMB != 256 {
		t.Fatalf("used %d MB, want the default 256", st[0].UsedMB)
	}
}

func TestHealth(t *testing.T) {
	const offline, probe = 3 * time.Second, 5 * time.Second
	for _, tc := range []struct {
		name string
		run  func(b *Balancer, c *clock)
		want State
	}{
		{"pinged", func(b *Balancer, c *clock) {}, Healthy},
		{"silent past the timeout", func(b *Balancer, c *clock) { c.add(offline + time.Millisecond) }, Offline},
		{"silent within the timeout", func(b *Balancer, c *clock) { c.add(offline) }, Healthy},
		{"disabled", func(b *Balancer, c *clock) {
			b.Ping(&bus.Ping{Invoker: 0, MemoryMB: 1024, Enabled: false})
		}, Offline},
		{"pings come back", func(b *Balancer, c *clock) { c.add(time.Minute); b.Ping(ping(0, 1024)) }, Healthy},
		{"three system errors in ten", func(b *Balancer, c *clock) { results(b, "eeeokokokok") }, Healthy},
		{"four system errors in ten", func(b *Balancer, c *clock) { results(b, "eeee") }, Unhealthy},
		{"errors pushed out of the window", func(b *Balancer, c *clock) { results(b, "eee"+"kkkkkkkk"+"e") }, Healthy},
		{"unhealthy, probed after a while", func(b *Balancer, c *clock) {
			results(b, "eeee")
			c.add(probe)
			b.Ping(ping(0, 1024))
		}, Healthy},
		{"unhealthy, back from offline", func(b *Balancer, c *clock) {
			results(b, "eeee")
			c.add(offline + time.Second)
			b.Ping(ping(0, 1024))
		}, Healthy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			b := New(Config{Logger: quiet, OfflineAfter: offline, ProbeAfter: probe, Now: c.Now})
			b.Ping(ping(0, 1024))
			tc.run(b, c)
			st := b.Invokers()
			if st[0].State != tc.want.String() {
				t.Fatalf("state %s, want %s", st[0].State, tc.want)
			}
			_, err := b.Invoker(msg("probe", "a", 128))
			if (err == nil) != (tc.want == Healthy) {
				t.Fatalf("Invoker err %v in state %s", err, tc.want)
			}
		})
	}
}

// results feeds completions: 'e' a system error, anything else a success.
func results(b *Balancer, s string) {
	for i, r := range s {
		id := fmt.Sprint("r", i)
		if _, err := b.Invoker(msg(id, "a", 1)); err != nil {
			return
		}
		b.Release(id, r == 'e')
	}
}

func TestUnhealthyIsSkipped(t *testing.T) {
	c := newClock()
	b := New(Config{Logger: quiet, Now: c.Now})
	b.Ping(ping(0, 1024))
	b.Ping(ping(1, 1024))
	home := int(hash("guest", "a") % 2)
	for i := 0; i < 4; i++ {
		id := fmt.Sprint("e", i)
		b.invokers[home].used++ // place on home by hand
		b.placed[id] = placement{invoker: home, memoryMB: 1}
		b.Release(id, true)
	}
	for i := 0; i < 5; i++ {
		got, err := b.Invoker(msg(fmt.Sprint("n", i), "a", 128))
		if err != nil || got != 1-home {
			t.Fatalf("went to %d (%v); want the healthy invoker %d", got, err, 1-home)
		}
	}
	// The other goes silent too: nothing is left.
	c.add(11 * time.Second)
	if _, err := b.Invoker(msg("z", "a", 128)); !errors.Is(err, controller.ErrNoInvokers) {
		t.Fatalf("err %v, want ErrNoInvokers", err)
	}
}
