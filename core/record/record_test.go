package record_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/record"
	"github.com/stokehq/stoke/core/store"
	"github.com/stokehq/stoke/core/store/sqlite"
	"github.com/stokehq/stoke/core/store/storetest"
)

// gated is the real sqlite store whose PutActivations can be held or made
// to fail, and which records the size of each batch.
type gated struct {
	store.Store
	mu      sync.Mutex
	gate    chan struct{} // when non-nil, writes wait for it to close
	entered chan struct{} // when non-nil, gets a token as each write starts
	fail    int           // fail this many more writes
	batches []int
}

func (g *gated) PutActivations(ctx context.Context, acts []*entity.Activation) error {
	g.mu.Lock()
	gate, entered := g.gate, g.entered
	g.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	g.mu.Lock()
	if g.fail != 0 {
		g.fail--
		g.mu.Unlock()
		return errors.New("disk on fire")
	}
	g.batches = append(g.batches, len(acts))
	g.mu.Unlock()
	return g.Store.PutActivations(ctx, acts)
}

func (g *gated) hold() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
	return g.gate
}

func (g *gated) sizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.batches...)
}

func newStore(t *testing.T) *gated {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "stoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &gated{Store: db}
}

// logTo returns a logger writing to a buffer the test can read.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func logTo() (*slog.Logger, *syncBuf) {
	buf := new(syncBuf)
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}

func act(i int) *entity.Activation {
	return storetest.NewActivation("ns", "f", fmt.Sprintf("id%04d", i), int64(1000+i))
}

func stored(t *testing.T, s store.Store, id string) bool {
	t.Helper()
	_, err := s.Activation(context.Background(), "ns", id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// eventually polls cond for up to 2s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func closeW(t *testing.T, w *record.Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func TestFlushAfterInterval(t *testing.T) {
	s := newStore(t)
	w := record.New(s, record.Config{Interval: 20 * time.Millisecond})
	defer closeW(t, w)
	start := time.Now()
	w.Write(act(1))
	eventually(t, "the record in the store", func() bool { return stored(t, s, "id0001") })
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Errorf("stored after %v, before the interval", d)
	}
	if _, ok := w.Lookup("ns", "id0001"); ok {
		t.Error("Lookup still holds a stored record")
	}
}

func TestLookupCoversTheGap(t *testing.T) {
	s := newStore(t)
	release := s.hold()
	w := record.New(s, record.Config{Interval: time.Millisecond})
	defer closeW(t, w)
	a := act(1)
	w.Write(a)
	// Queued, then held in the write: the store has nothing yet, Lookup has it.
	for range 2 {
		got, ok := w.Lookup("ns", a.ActivationID)
		if !ok || got != a {
			t.Fatalf("Lookup = %v, %v; want the record", got, ok)
		}
		if stored(t, s, a.ActivationID) {
			t.Fatal("stored while the write is held (test setup)")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := w.Lookup("other", a.ActivationID); ok {
		t.Error("Lookup found the record in another namespace")
	}
	close(release)
	eventually(t, "the record to move to the store", func() bool {
		_, queued := w.Lookup("ns", a.ActivationID)
		return !queued
	})
	// No moment where neither has it: Lookup forgot it only after the
	// store committed it.
	if !stored(t, s, a.ActivationID) {
		t.Error("Lookup forgot a record the store does not have")
	}
}

func TestBatchSize(t *testing.T) {
	s := newStore(t)
	w := record.New(s, record.Config{Interval: time.Hour, Batch: 10})
	for i := range 25 {
		w.Write(act(i))
	}
	// Two full batches go at once, without waiting the hour.
	eventually(t, "two full batches", func() bool { return len(s.sizes()) >= 2 })
	for _, n := range s.sizes() {
		if n > 10 {
			t.Errorf("batch of %d, over the limit of 10", n)
		}
	}
	closeW(t, w) // flushes the last 5
	total := 0
	for _, n := range s.sizes() {
		total += n
	}
	if total != 25 {
		t.Errorf("%d records written in batches %v, want 25", total, s.sizes())
	}
}

func TestCloseFlushes(t *testing.T) {
	s := newStore(t)
	w := record.New(s, record.Config{Interval: time.Hour})
	for i := range 100 {
		w.Write(act(i))
	}
	closeW(t, w)
	n, err := s.CountActivations(context.Background(), store.ActivationQuery{Namespace: "ns"})
	if err != nil || n != 100 {
		t.Errorf("after Close: %d records, %v; want 100", n, err)
	}
	// Closing twice is harmless; writing after Close stores nothing.
	closeW(t, w)
	w.Write(act(500))
	if stored(t, s, "id0500") {
		t.Error("a record written after Close was stored")
	}
}

func TestRetry(t *testing.T) {
	s := newStore(t)
	s.fail = 3
	log, buf := logTo()
	w := record.New(s, record.Config{Interval: time.Millisecond, MinBackoff: time.Millisecond, Log: log})
	defer closeW(t, w)
	w.Write(act(1))
	eventually(t, "the record stored after retries", func() bool { return stored(t, s, "id0001") })
	if got := strings.Count(buf.String(), "will retry"); got != 3 {
		t.Errorf("%d retry log lines, want 3:\n%s", got, buf)
	}
}

func TestCloseGivesUp(t *testing.T) {
	s := newStore(t)
	s.fail = -1 // forever
	log, buf := logTo()
	w := record.New(s, record.Config{Interval: time.Millisecond, MinBackoff: time.Millisecond, Log: log})
	for i := range 3 {
		w.Write(act(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := w.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "3 activation records not stored") {
		t.Errorf("Close = %v, want an error counting 3 lost records", err)
	}
	if got := strings.Count(buf.String(), "lost at close"); got != 3 {
		t.Errorf("%d records logged as lost, want 3:\n%s", got, buf)
	}
}

func TestBackPressure(t *testing.T) {
	s := newStore(t)
	release := s.hold()
	s.entered = make(chan struct{}, 10)
	w := record.New(s, record.Config{Interval: time.Millisecond, Batch: 2, MaxQueue: 2})
	defer closeW(t, w)
	w.Write(act(1))
	w.Write(act(2))
	<-s.entered // the flusher holds records 1 and 2 in a write
	w.Write(act(3))
	w.Write(act(4)) // the queue is full now
	done := make(chan struct{})
	go func() {
		w.Write(act(5))
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("Write did not block on a full queue")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Write still blocked after the store recovered")
	}
	closeW(t, w)
	for i := 1; i <= 5; i++ {
		if !stored(t, s, fmt.Sprintf("id%04d", i)) {
			t.Errorf("record %d lost", i)
		}
	}
}

func TestInvalidRecords(t *testing.T) {
	s := newStore(t)
	log, buf := logTo()
	w := record.New(s, record.Config{Interval: time.Millisecond, Log: log})
	w.Write(nil)
	w.Write(storetest.NewActivation("", "f", "x", 1))
	w.Write(storetest.NewActivation("ns", "f", "", 1))
	w.Write(act(1)) // a good record after bad ones still goes through
	closeW(t, w)
	if got := strings.Count(buf.String(), "discarding invalid"); got != 3 {
		t.Errorf("%d invalid records logged, want 3:\n%s", got, buf)
	}
	if !stored(t, s, "id0001") {
		t.Error("the valid record was not stored")
	}
}

func TestConcurrentWriters(t *testing.T) {
	s := newStore(t)
	w := record.New(s, record.Config{Batch: 64})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				w.Write(act(g*1000 + i))
			}
		})
	}
	wg.Wait()
	closeW(t, w)
	n, err := s.CountActivations(context.Background(), store.ActivationQuery{Namespace: "ns"})
	if err != nil || n != 800 {
		t.Errorf("%d records stored, %v; want 800", n, err)
	}
}

// WriteThen's callback runs once the record is in the store, never before;
// a discarded record still gets its callback.
func TestWriteThen(t *testing.T) {
	s := newStore(t)
	release := s.hold()
	w := record.New(s, record.Config{Interval: time.Millisecond})
	defer closeW(t, w)
	done := make(chan bool, 1)
	w.WriteThen(act(1), func() { done <- stored(t, s, "id0001") })
	select {
	case <-done:
		t.Fatal("callback ran while the write was held")
	case <-time.After(30 * time.Millisecond):
	}
	close(release)
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("callback ran before the record was in the store")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("callback never ran")
	}
	called := make(chan struct{})
	w.WriteThen(&entity.Activation{}, func() { close(called) })
	select {
	case <-called:
	case <-time.After(time.Second):
		t.Fatal("no callback for a discarded record")
	}
}
