// Package bustest is the behaviour every bus.Bus must have, as a test suite
// any implementation runs from its own tests:
//
//	func TestBus(t *testing.T) { bustest.Run(t, func(t *testing.T) bus.Bus { ... }) }
//
// newBus is called once per case and must return a bus with no messages on
// it (a fresh broker, or topics no other case uses); the suite closes it.
package bustest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/core/bus"
	"github.com/stokehq/stoke/core/entity"
)

// Wait bounds how long a case waits for a message; a Kafka consumer's first
// group join takes a few hundred milliseconds.
var Wait = 15 * time.Second

// quiet is how long a case watches for a message that must not come.
const quiet = 300 * time.Millisecond

// Run runs every case against buses made by newBus.
func Run(t *testing.T, newBus func(t *testing.T) bus.Bus) {
	cases := []struct {
		name string
		fn   func(*testing.T, bus.Bus)
	}{
		{"OrderPerTopic", testOrder},
		{"TopicsIsolated", testIsolated},
		{"LateConsumer", testLateConsumer},
		{"CompletionRecord", testCompletionRecord},
		{"PingFanOut", testPingFanOut},
		{"Dedup", testDedup},
		{"ContextStopsConsumer", testContextStops},
		{"CloseStopsConsumers", testClose},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBus(t)
			t.Cleanup(func() { b.Close() })
			c.fn(t, b)
		})
	}
}

// collector gathers what a handler saw.
type collector[T any] struct{ ch chan T }

func newCollector[T any]() collector[T] { return collector[T]{make(chan T, 1024)} }

func (c collector[T]) add(v T) { c.ch <- v }

// next waits for the next value.
func (c collector[T]) next(t *testing.T, what string) T {
	t.Helper()
	select {
	case v := <-c.ch:
		return v
	case <-time.After(Wait):
		t.Fatalf("no %s within %v", what, Wait)
		panic("unreachable")
	}
}

// none fails if a value arrives within quiet.
func (c collector[T]) none(t *testing.T, what string) {
	t.Helper()
	select {
	case v := <-c.ch:
		t.Fatalf("unexpected %s: %+v", what, v)
	case <-time.After(quiet):
	}
}

// consume runs f in the background until the case ends, and reports what f
// returned through the returned channel.
func consume(t *testing.T, f func(ctx context.Context) error) (cancel func(), done <-chan error) {
	ctx, stop := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		ch <- f(ctx)
		close(finished)
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-finished:
		case <-time.After(Wait):
			t.Errorf("consumer did not stop within %v", Wait)
		}
	})
	return stop, ch
}

func act(id string, invoker int) *bus.ActivationMessage {
	return &bus.ActivationMessage{ActivationID: id, TransactionID: "tx-" + id, Namespace: "guest",
		Name: "hello", Controller: invoker}
}

func sendActs(t *testing.T, b bus.Bus, invoker int, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := b.SendActivation(context.Background(), invoker, act(id, invoker)); err != nil {
			t.Fatalf("send %s to invoker %d: %v", id, invoker, err)
		}
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return out
}

func expect(t *testing.T, c collector[*bus.ActivationMessage], want []string) {
	t.Helper()
	for _, id := range want {
		if got := c.next(t, "activation "+id).ActivationID; got != id {
			t.Fatalf("got activation %s, want %s", got, id)
		}
	}
}

func testOrder(t *testing.T, b bus.Bus) {
	c := newCollector[*bus.ActivationMessage]()
	consume(t, func(ctx context.Context) error { return b.ConsumeActivations(ctx, 3, c.add) })
	want := ids("o", 50)
	sendActs(t, b, 3, want...)
	expect(t, c, want)
	c.none(t, "activation")
}

func testIsolated(t *testing.T, b bus.Bus) {
	c0, c1 := newCollector[*bus.ActivationMessage](), newCollector[*bus.ActivationMessage]()
	done := newCollector[*bus.Completion]()
	consume(t, func(ctx context.Context) error { return b.ConsumeActivations(ctx, 0, c0.add) })
	consume(t, func(ctx context.Context) error { return b.ConsumeActivations(ctx, 1, c1.add) })
	consume(t, func(ctx context.Context) error { return b.ConsumeCompletions(ctx, 0, done.add) })
	sendActs(t, b, 0, "a0", "b0")
	sendActs(t, b, 1, "a1")
	if err := b.SendCompletion(context.Background(), 1, &bus.Completion{ActivationID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.SendCompletion(context.Background(), 0, &bus.Completion{ActivationID: "c0"}); err != nil {
		t.Fatal(err)
	}
	expect(t, c0, []string{"a0", "b0"})
	expect(t, c1, []string{"a1"})
	if id := done.next(t, "completion").ActivationID; id != "c0" {
		t.Fatalf("controller 0 got completion %s, meant for controller 1", id)
	}
	c0.none(t, "activation on invoker 0")
	c1.none(t, "activation on invoker 1")
	done.none(t, "completion on controller 0")
}

func testLateConsumer(t *testing.T, b bus.Bus) {
	want := ids("late", 5)
	sendActs(t, b, 2, want...)
	if err := b.SendCompletion(context.Background(), 2, &bus.Completion{ActivationID: "late-c"}); err != nil {
		t.Fatal(err)
	}
	c := newCollector[*bus.ActivationMessage]()
	done := newCollector[*bus.Completion]()
	consume(t, func(ctx context.Context) error { return b.ConsumeActivations(ctx, 2, c.add) })
	consume(t, func(ctx context.Context) error { return b.ConsumeCompletions(ctx, 2, done.add) })
	expect(t, c, want)
	if id := done.next(t, "completion").ActivationID; id != "late-c" {
		t.Fatalf("got completion %s", id)
	}
}

// testCompletionRecord sends a completion and an activation with every field
// set and checks they arrive intact (through JSON on buses that encode).
func testCompletionRecord(t *testing.T, b bus.Bus) {
	rec := &entity.Activation{
		Namespace: "guest", Name: "hello", Version: "0.0.2", Subject: "guest", ActivationID: "rec1",
		Start: 1700000000000, End: 1700000000042, Duration: 42, StatusCode: entity.StatusApplication,
		Response: entity.Response{Status: "application error", StatusCode: entity.StatusApplication,
			Result: json.RawMessage(`{"error":"bad \"input\"","n":[1,2.5,null]}`), Size: 37},
		Logs:        []string{"2024-01-01T00:00:00.000Z stdout: hi", "ünïcødé ✓"},
		Annotations: entity.KeyValues{{Key: "kind", Value: json.RawMessage(`"nodejs:20"`)}, {Key: "waitTime", Value: json.RawMessage(`3`)}},
		Publish:     true,
	}
	want := &bus.Completion{ActivationID: "rec1", TransactionID: "tx-rec1", Invoker: 4, SystemError: true, Activation: rec}
	done := newCollector[*bus.Completion]()
	consume(t, func(ctx context.Context) error { return b.ConsumeCompletions(ctx, 4, done.add) })
	if err := b.SendCompletion(context.Background(), 4, want); err != nil {
		t.Fatal(err)
	}
	if got := done.next(t, "completion"); !reflect.DeepEqual(got, want) {
		t.Fatalf("completion changed on the bus:\n got %+v\nwant %+v", got, want)
	}

	m := &bus.ActivationMessage{ActivationID: "m1", TransactionID: "tx-m1",
		Start: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC), Namespace: "guest", Name: "pkg/hello",
		Version: "1.2.3", Revision: 7, Blocking: true, Controller: 2,
		User:    entity.Identity{Subject: "guest", Namespace: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey},
		Content: json.RawMessage(`{"name":"Jörg","list":[1,{"a":true}]}`)}
	acts := newCollector[*bus.ActivationMessage]()
	consume(t, func(ctx context.Context) error { return b.ConsumeActivations(ctx, 4, acts.add) })
	if err := b.SendActivation(context.Background(), 4, m); err != nil {
		t.Fatal(err)
	}
	got := acts.next(t, "activation")
	if !got.Start.Equal(m.Start) {
		t.Fatalf("start %v, want %v", got.Start, m.Start)
	}
	g, w := *got, *m
	g.Start, w.Start = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("activation changed on the bus:\n got %+v\nwant %+v", g, w)
	}
}

// testPingFanOut runs two ping consumers and sends pings until both saw
// one: pings are periodic, and a consumer may start after the first.
func testPingFanOut(t *testing.T, b bus.Bus) {
	var mu sync.Mutex
	seen := [2]*bus.Ping{}
	for i := range seen {
		consume(t, func(ctx context.Context) error {
			return b.ConsumePings(ctx, func(p *bus.Ping) {
				mu.Lock()
				defer mu.Unlock()
				if seen[i] == nil {
					seen[i] = p
				}
			})
		})
	}
	sent := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	deadline := time.Now().Add(Wait)
	for {
		if err := b.SendPing(context.Background(), &bus.Ping{Invoker: 7, MemoryMB: 2048, Enabled: true, Time: sent}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		both := seen[0] != nil && seen[1] != nil
		mu.Unlock()
		if both {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the consumers saw %v and %v", Wait, seen[0], seen[1])
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i, p := range seen {
		if p.Invoker != 7 || p.MemoryMB != 2048 || !p.Enabled || !p.Time.Equal(sent) {
			t.Fatalf("consumer %d got ping %+v", i, p)
		}
	}
}

func testDedup(t *testing.T, b bus.Bus) {
	c := newCollector[*bus.ActivationMessage]()
	done := newCollector[*bus.Completion]()
	consume(t, func(ctx context.Context) error { return b.ConsumeActivations(ctx, 5, c.add) })
	consume(t, func(ctx context.Context) error { return b.ConsumeCompletions(ctx, 5, done.add) })
	sendActs(t, b, 5, "d1", "d1", "d2", "d1")
	expect(t, c, []string{"d1", "d2"})
	c.none(t, "duplicate activation")
	for _, id := range []string{"x", "x", "y"} {
		if err := b.SendCompletion(context.Background(), 5, &bus.Completion{ActivationID: id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"x", "y"} {
		if got := done.next(t, "completion").ActivationID; got != id {
			t.Fatalf("got completion %s, want %s", got, id)
		}
	}
	done.none(t, "duplicate completion")
}

func testContextStops(t *testing.T, b bus.Bus) {
	stop, done := consume(t, func(ctx context.Context) error { return b.ConsumeActivations(ctx, 6, func(*bus.ActivationMessage) {}) })
	stop()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("consumer ended with %v, want context.Canceled", err)
		}
	case <-time.After(Wait):
		t.Fatal("consumer ignored its context")
	}
	// The bus still works.
	c := newCollector[*bus.ActivationMessage]()
	consume(t, func(ctx context.Context) error { return b.ConsumeActivations(ctx, 6, c.add) })
	sendActs(t, b, 6, "after")
	expect(t, c, []string{"after"})
}

func testClose(t *testing.T, b bus.Bus) {
	c := newCollector[*bus.ActivationMessage]()
	_, acts := consume(t, func(ctx context.Context) error { return b.ConsumeActivations(ctx, 8, c.add) })
	_, comps := consume(t, func(ctx context.Context) error { return b.ConsumeCompletions(ctx, 8, func(*bus.Completion) {}) })
	_, pings := consume(t, func(ctx context.Context) error { return b.ConsumePings(ctx, func(*bus.Ping) {}) })
	sendActs(t, b, 8, "before-close")
	expect(t, c, []string{"before-close"})
	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for name, done := range map[string]<-chan error{"activations": acts, "completions": comps, "pings": pings} {
		select {
		case err := <-done:
			if !errors.Is(err, bus.ErrClosed) {
				t.Errorf("%s consumer ended with %v, want bus.ErrClosed", name, err)
			}
		case <-time.After(Wait):
			t.Fatalf("%s consumer still running after Close", name)
		}
	}
	ctx := context.Background()
	for name, err := range map[string]error{
		"activation": b.SendActivation(ctx, 8, act("after-close", 8)),
		"completion": b.SendCompletion(ctx, 8, &bus.Completion{ActivationID: "after-close"}),
		"ping":       b.SendPing(ctx, &bus.Ping{Invoker: 8, Time: time.Now()}),
		"consume":    b.ConsumeActivations(ctx, 8, func(*bus.ActivationMessage) {}),
	} {
		if !errors.Is(err, bus.ErrClosed) {
			t.Errorf("%s after Close: %v, want bus.ErrClosed", name, err)
		}
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
