// Package record writes activation records off the critical path: the
// invoker hands a finished record to Write, which only queues it, and one
// goroutine stores the queue in batches (one transaction per batch).
//
// Records are never dropped silently. A failed batch is retried with
// backoff until it is stored or Close gives up, and either way it is
// logged. The queue is bounded: when it holds Config.MaxQueue records
// (the store has fallen far behind or is down), Write blocks until the
// writer makes room. That back-pressure, rather than spilling to memory
// without bound or to disk, keeps the memory of a stuck invoker bounded
// and makes the outage visible upstream.
//
// Until a record is stored, Lookup finds it, so that a GET of an
// activation right after a blocking invoke does not return 404.
package record

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/stokehq/stoke/core/entity"
	"github.com/stokehq/stoke/core/store"
)

// Config tunes the writer. The zero value gives the defaults.
type Config struct {
	// Interval is the longest a record waits before its batch is written
	// (default 10ms).
	Interval time.Duration
	// Batch is the most records written in one transaction; a full batch is
	// written at once (default 256).
	Batch int
	// MaxQueue is how many records may wait before Write blocks (default
	// 65536).
	MaxQueue int
	// MinBackoff and MaxBackoff bound the wait between retries of a failed
	// batch (defaults 10ms and 5s); the wait doubles on each failure.
	MinBackoff, MaxBackoff time.Duration
	// Log receives write failures (default slog.Default()).
	Log *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = 10 * time.Millisecond
	}
	if c.Batch <= 0 {
		c.Batch = 256
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 65536
	}
	c.MaxQueue = max(c.MaxQueue, c.Batch)
	if c.MinBackoff <= 0 {
		c.MinBackoff = 10 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// Writer queues activation records and stores them in batches. It is safe
// for concurrent use.
type Writer struct {
	s   store.Store
	cfg Config

	mu      sync.Mutex
	room    *sync.Cond // signalled when the queue shrinks
	queue   []*entity.Activation
	pending map[string]*entity.Activation // queued or being written, by key
	then    map[*entity.Activation]func() // WriteThen callbacks
	closed  bool

	wake chan struct{} // a record arrived
	full chan struct{} // a batch is ready
	stop chan struct{} // Close was called

	// abort cancels the retries of the last batch when Close gives up.
	ctx   context.Context
	abort context.CancelFunc
	done  chan struct{}
	err   error // set by the flusher before done closes
}

// New starts a writer that stores records in s. Close it to flush. A nil
// s is a programming error and panics here rather than in the flusher.
func New(s store.Store, cfg Config) *Writer {
	if s == nil {
		panic("record: New with a nil store")
	}
	ctx, abort := context.WithCancel(context.Background())
	w := &Writer{
		s:       s,
		cfg:     cfg.withDefaults(),
		pending: map[string]*entity.Activation{},
		then:    map[*entity.Activation]func(){},
		wake:    make(chan struct{}, 1),
		full:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		ctx:     ctx,
		abort:   abort,
		done:    make(chan struct{}),
	}
	w.room = sync.NewCond(&w.mu)
	go w.run()
	return w
}

func key(namespace, id string) string { return namespace + "\x00" + id }

// Write queues a for storing and returns without waiting for I/O, unless
// the queue is full (see the package doc). The writer owns a afterwards:
// the caller must not modify it. A record that can never be stored (nil,
// or without namespace or activation ID), or one written after Close, is
// logged and discarded.
func (w *Writer) Write(a *entity.Activation) { w.WriteThen(a, nil) }

// WriteThen is Write, and calls stored once the record is in the store, or
// once it is known never to be (discarded, or lost when Close gives up).
// stored runs on the writer's goroutine and must not block: it is how a
// caller acts on durability (send an acknowledgement) without polling.
func (w *Writer) WriteThen(a *entity.Activation, stored func()) {
	if a == nil || a.Namespace == "" || a.ActivationID == "" {
		w.cfg.Log.Error("record: discarding invalid activation record", "record", a)
		call(stored)
		return
	}
	w.mu.Lock()
	for len(w.queue) >= w.cfg.MaxQueue && !w.closed {
		w.room.Wait()
	}
	if w.closed {
		w.mu.Unlock()
		w.cfg.Log.Error("record: writer closed, activation record not stored",
			"namespace", a.Namespace, "activationId", a.ActivationID)
		call(stored)
		return
	}
	w.queue = append(w.queue, a)
	w.pending[key(a.Namespace, a.ActivationID)] = a
	if stored != nil {
		w.then[a] = stored
	}
	n := len(w.queue)
	w.mu.Unlock()

	signal(w.wake)
	if n >= w.cfg.Batch {
		signal(w.full)
	}
}

func call(f func()) {
	if f != nil {
		f()
	}
}

// takeThen removes and returns the callbacks of records. Call with w.mu
// held; run them after releasing it.
func (w *Writer) takeThen(records []*entity.Activation) []func() {
	var fs []func()
	for _, a := range records {
		if f, ok := w.then[a]; ok {
			delete(w.then, a)
			fs = append(fs, f)
		}
	}
	return fs
}

// signal sends on a 1-buffered channel without blocking: one token is
// enough to wake the flusher.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Lookup returns a record that Write accepted but the store may not show
// yet. Once it is stored, Lookup forgets it and the store has it: check
// Lookup first, then the store. The record must not be modified.
func (w *Writer) Lookup(namespace, id string) (*entity.Activation, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.pending[key(namespace, id)]
	return a, ok
}

// Close stores every queued record and stops the writer. If ctx ends
// first (the store is failing), it stops retrying, logs the records it
// could not store and returns an error counting them. Write after Close
// stores nothing.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.stop)
		w.room.Broadcast() // blocked writers give up
	}
	w.mu.Unlock()

	select {
	case <-w.done:
	case <-ctx.Done():
		w.abort()
		<-w.done
	}
	w.abort()
	return w.err
}

// run is the flusher: it waits for a record, gives the batch up to
// Interval to fill, then writes until the queue is empty.
func (w *Writer) run() {
	defer close(w.done)
	timer := time.NewTimer(w.cfg.Interval)
	timer.Stop()
	for {
		select {
		case <-w.wake:
		case <-w.stop:
			w.err = w.drain()
			return
		}
		timer.Reset(w.cfg.Interval)
		select {
		case <-timer.C:
		case <-w.full:
			timer.Stop()
		case <-w.stop:
			timer.Stop()
		}
		if err := w.drain(); err != nil {
			w.err = err
			return
		}
	}
}

// drain writes batches until the queue is empty. It fails only when Close
// aborted the retries.
func (w *Writer) drain() error {
	for {
		w.mu.Lock()
		n := min(len(w.queue), w.cfg.Batch)
		batch := w.queue[:n:n]
		w.queue = w.queue[n:]
		w.mu.Unlock()
		if n == 0 {
			return nil
		}
		err := w.store(batch)
		w.mu.Lock()
		if err != nil {
			// Put the batch back so that the error counts every record.
			w.queue = append(batch, w.queue...)
			left := len(w.queue)
			for _, a := range w.queue {
				w.cfg.Log.Error("record: activation record lost at close",
					"namespace", a.Namespace, "activationId", a.ActivationID)
			}
			lost := w.takeThen(w.queue)
			w.mu.Unlock()
			for _, f := range lost {
				f()
			}
			return fmt.Errorf("record: close: %d activation records not stored: %w", left, err)
		}
		for _, a := range batch {
			k := key(a.Namespace, a.ActivationID)
			if w.pending[k] == a { // a newer record with this ID may be queued
				delete(w.pending, k)
			}
		}
		stored := w.takeThen(batch)
		w.room.Broadcast()
		w.mu.Unlock()
		for _, f := range stored {
			f()
		}
	}
}

// store writes one batch, retrying with backoff until it succeeds or Close
// aborts.
func (w *Writer) store(batch []*entity.Activation) error {
	wait := w.cfg.MinBackoff
	for attempt := 1; ; attempt++ {
		err := w.s.PutActivations(w.ctx, batch)
		if err == nil {
			if attempt > 1 {
				w.cfg.Log.Info("record: batch stored after retries", "records", len(batch), "attempts", attempt)
			}
			return nil
		}
		if w.ctx.Err() != nil {
			return errors.Join(err, w.ctx.Err())
		}
		w.cfg.Log.Error("record: storing activation records failed, will retry",
			"records", len(batch), "attempt", attempt, "retryIn", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-w.ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", w.ctx.Err(), err)
		}
		wait = min(2*wait, w.cfg.MaxBackoff)
	}
}
