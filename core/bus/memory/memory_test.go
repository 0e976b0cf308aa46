package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stokehq/stoke/core/bus"
)

func TestOrderAndTopics(t *testing.T) {
	b := New(16)
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	for i, id := range []string{"a", "b", "c"} {
		if err := b.SendActivation(ctx, i%2, &bus.ActivationMessage{ActivationID: id}); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan string, 3)
	go b.ConsumeActivations(ctx, 0, func(m *bus.ActivationMessage) { got <- m.ActivationID })
	for _, want := range []string{"a", "c"} {
		select {
		case id := <-got:
			if id != want {
				t.Fatalf("invoker 0 got %q, want %q", id, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("invoker 0 never got %q", want)
		}
	}
	select {
	case id := <-got:
		t.Fatalf("invoker 0 got %q, meant for invoker 1", id)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestCompletionAndClose(t *testing.T) {
	b := New(1)
	ctx := context.Background()
	done := make(chan error, 1)
	seen := make(chan string, 1)
	go func() {
		done <- b.ConsumeCompletions(ctx, 0, func(c *bus.Completion) { seen <- c.ActivationID })
	}()
	if err := b.SendCompletion(ctx, 0, &bus.Completion{ActivationID: "x"}); err != nil {
		t.Fatal(err)
	}
	if id := <-seen; id != "x" {
		t.Fatalf("got %q", id)
	}
	b.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("consumer ended with %v, want ErrClosed", err)
	}
	if err := b.SendCompletion(ctx, 0, &bus.Completion{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestSendBlocksUntilCtx(t *testing.T) {
	b := New(1)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := b.SendActivation(ctx, 0, &bus.ActivationMessage{}); err != nil {
		t.Fatal(err)
	}
	if err := b.SendActivation(ctx, 0, &bus.ActivationMessage{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("full topic: got %v, want deadline exceeded", err)
	}
}
