package wasm

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/stokehq/stoke/sdk"
)

// logHub fans a sandbox's log lines out to its LogStreams. Publishing never
// blocks a run: each stream buffers up to a bound and drops lines beyond it,
// then tells its reader how many it dropped. Sentinels are never dropped,
// since the invoker frames activations by them.
type logHub struct {
	maxBytes int

	mu     sync.Mutex
	subs   []*logStream
	closed bool
}

func newLogHub(maxBytes int) *logHub { return &logHub{maxBytes: maxBytes} }

func (h *logHub) subscribe() *logStream {
	s := &logStream{hub: h, wake: make(chan struct{}, 1), maxBytes: h.maxBytes}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.closed = true
		return s
	}
	h.subs = append(h.subs, s)
	return s
}

func (h *logHub) publish(stream, text string) {
	h.mu.Lock()
	subs := h.subs
	h.mu.Unlock()
	if len(subs) == 0 {
		return
	}
	l := sdk.LogLine{Time: time.Now(), Stream: stream, Text: text}
	for _, s := range subs {
		s.push(l)
	}
}

// sentinel ends an activation's logs on both streams.
func (h *logHub) sentinel() {
	h.publish("stdout", sdk.Sentinel)
	h.publish("stderr", sdk.Sentinel)
}

// close ends every stream once its buffered lines are read.
func (h *logHub) close() {
	h.mu.Lock()
	subs := h.subs
	h.subs = nil
	h.closed = true
	h.mu.Unlock()
	for _, s := range subs {
		s.end()
	}
}

func (h *logHub) remove(s *logStream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, x := range h.subs {
		if x == s {
			h.subs = append(h.subs[:i:i], h.subs[i+1:]...)
			return
		}
	}
}

// logStream implements sdk.LogStream over a bounded queue.
type logStream struct {
	hub      *logHub
	wake     chan struct{}
	maxBytes int

	mu      sync.Mutex
	lines   []sdk.LogLine
	head    int
	bytes   int
	dropped int
	closed  bool
}

// maxQueued bounds the line count too, so empty lines cannot pile up.
const maxQueued = 1 << 16

func (s *logStream) push(l sdk.LogLine) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	n := len(s.lines) - s.head
	full := s.bytes+len(l.Text) > s.maxBytes || n >= maxQueued
	switch {
	case l.Text == sdk.Sentinel && n < 2*maxQueued:
		s.flushDropped(l.Time)
		s.append(l)
	case full:
		s.dropped++
	default:
		s.flushDropped(l.Time)
		s.append(l)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *logStream) flushDropped(t time.Time) {
	if s.dropped == 0 {
		return
	}
	s.append(sdk.LogLine{Time: t, Stream: "stderr",
		Text: fmt.Sprintf("%d log lines were dropped because the log reader was too slow.", s.dropped)})
	s.dropped = 0
}

func (s *logStream) append(l sdk.LogLine) {
	if s.head > 0 && s.head == len(s.lines) {
		s.lines, s.head = s.lines[:0], 0
	}
	s.lines = append(s.lines, l)
	s.bytes += len(l.Text)
}

func (s *logStream) end() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next returns the next line, or io.EOF once the sandbox is gone and every
// buffered line was read.
func (s *logStream) Next(ctx context.Context) (sdk.LogLine, error) {
	for {
		s.mu.Lock()
		if s.head < len(s.lines) {
			l := s.lines[s.head]
			s.lines[s.head] = sdk.LogLine{}
			s.head++
			s.bytes -= len(l.Text)
			s.mu.Unlock()
			return l, nil
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return sdk.LogLine{}, io.EOF
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return sdk.LogLine{}, ctx.Err()
		}
	}
}

// Close detaches the stream; later lines are not kept for it.
func (s *logStream) Close() error {
	s.hub.remove(s)
	s.end()
	s.mu.Lock()
	s.lines, s.head, s.bytes = nil, 0, 0
	s.mu.Unlock()
	return nil
}
